"""Build-time outputs of islands: run a page's blocks in one kernel subprocess
(:mod:`subprocess_host.headless`) and render the outputs as static HTML.

The static HTML is what a reader sees before Python has started in the browser (and without
JavaScript); the islands script replaces a block's static outputs as soon as the block's
first live output arrives.  Class names match the live renderers (``text-output``,
``error-output``...), so one stylesheet serves both.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["PrerenderError", "outputs_html", "run_islands"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_UI_MIME = "application/vnd.amphikernel.ui+json"
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class PrerenderError(RuntimeError):
    """The build-time run could not happen (kernel did not start, timeout)."""


def run_islands(
    cells: Sequence[tuple[str, str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 300.0,
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Run a page's islands top to bottom (script semantics) in one kernel subprocess.

    Args:
        cells: ``(cell_id, source)`` pairs in reading order.
        cwd: the kernel's working directory (default: this process's).
        timeout: seconds allowed for the whole page.

    Returns:
        ``(outputs, failed)``: cell id -> nbformat-4 output dicts, and the ids of cells that
        raised or could not run.

    Raises:
        PrerenderError: the kernel did not start, died, or the run timed out.
    """
    from lifecycle.notebook import Cell, Notebook
    from subprocess_host.client import KernelStartError
    from subprocess_host.headless import run_in_subprocess

    if not cells:
        return {}, []
    nb = Notebook(cells=[Cell(id=cell_id, kind="code", source=source) for cell_id, source in cells])
    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # the usual case: a plain build process
            result = run_in_subprocess(nb, cwd=cwd, timeout=timeout)
        else:  # called under a running event loop (a notebook, playwright): use a thread
            with ThreadPoolExecutor(1, thread_name_prefix="amphi-prerender") as pool:
                result = pool.submit(run_in_subprocess, nb, cwd=cwd, timeout=timeout).result()
    except TimeoutError as exc:
        raise PrerenderError(f"the islands took longer than {timeout:g} s to run") from exc
    except KernelStartError as exc:
        raise PrerenderError(f"the kernel did not start: {exc}") from exc
    if result.kernel_errors:
        raise PrerenderError("; ".join(result.kernel_errors))
    return {cell.id: list(cell.outputs) for cell in result.notebook.cells}, list(result.failed_cells)


# ------------------------------------------------------------------------------ static HTML


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return "" if value is None else str(value)


def _pre(text: str, classes: str = "text-output") -> str:
    attr = f' class="{classes}"' if classes else ""
    return f"<pre{attr}>{html.escape(_ANSI.sub('', text), quote=False)}</pre>"


def _image(mime: str, value: Any, metadata: dict[str, Any]) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        payload = base64.b64encode(bytes(value)).decode("ascii")
    elif mime == "image/svg+xml":
        payload = base64.b64encode(_text(value).encode("utf-8")).decode("ascii")
    else:
        payload = re.sub(r"\s+", "", _text(value))
    own = metadata.get(mime) if isinstance(metadata.get(mime), dict) else {}
    attrs = ""
    for key in ("width", "height"):
        size = own.get(key, metadata.get(key))
        if isinstance(size, (int, float)) and not isinstance(size, bool) and size > 0:
            attrs += f' {key}="{int(size)}"'
    alt = own.get("alt", metadata.get("alt"))
    alt_text = html.escape(alt if isinstance(alt, str) and alt else "image output", quote=True)
    return f'<div class="image-output"><img alt="{alt_text}" src="data:{mime};base64,{payload}"{attrs}></div>'


def _ui_preview(spec: Any) -> str | None:
    """A static, disabled look-alike of a UI element (the live one replaces it)."""
    if not isinstance(spec, dict):
        return None
    props = spec.get("props") if isinstance(spec.get("props"), dict) else {}
    kind, value = spec.get("kind"), spec.get("value")
    label = html.escape(str(props.get("label") or ""), quote=False)
    shown = html.escape("" if value is None else str(value), quote=True)
    if kind == "slider":
        control = (
            f'<input type="range" disabled min="{html.escape(str(props.get("start", 0)), quote=True)}" '
            f'max="{html.escape(str(props.get("stop", 100)), quote=True)}" '
            f'step="{html.escape(str(props.get("step", 1)), quote=True)}" value="{shown}">'
            f'<output class="ui-value">{shown}</output>'
        )
    elif kind in ("number", "text"):
        control = f'<input type="{"number" if kind == "number" else "text"}" disabled value="{shown}">'
    elif kind == "checkbox":
        control = f'<input type="checkbox" disabled{" checked" if value else ""}>'
    else:
        return None
    label_html = f'<span class="ui-label">{label}</span>' if label else ""
    return f'<div class="ui-output amphi-ui-preview"><div class="ui-row">{label_html}{control}</div></div>'


def _bundle(data: dict[str, Any], metadata: dict[str, Any]) -> str:
    if _UI_MIME in data:
        preview = _ui_preview(data[_UI_MIME])
        if preview is not None:
            return preview
    for mime in (*_IMAGE_TYPES, "image/svg+xml"):
        if mime in data:
            return _image(mime, data[mime], metadata)
    if "text/html" in data and _UI_MIME not in data and _WIDGET_MIME not in data:
        return f'<div class="html-container html-output">{_text(data["text/html"])}</div>'
    if "text/plain" in data:
        return _pre(_text(data["text/plain"]))
    if "text/markdown" in data:
        return _pre(_text(data["text/markdown"]), "text-output markdown-source")
    if "application/json" in data:
        return _pre(json.dumps(data["application/json"], indent=2, ensure_ascii=False, default=repr))
    kinds = ", ".join(sorted(data)) or "(empty)"
    return f'<div class="text-output muted">[output of type {html.escape(kinds, quote=False)}]</div>'


def output_html(output: dict[str, Any]) -> str:
    """Static HTML of one nbformat-4 output dict (``stream``, ``execute_result``,
    ``display_data``, ``error``); unknown output types give an empty string.

    HTML outputs are included as they are: they come from the documentation's own code,
    run at build time, like any other HTML the author writes.
    """
    kind = output.get("output_type")
    if kind == "stream":
        stream = "stderr" if output.get("name") == "stderr" else "stdout"
        return f'<div class="console-output {stream}">{_pre(_text(output.get("text")), "")}</div>'
    if kind == "error":
        name = html.escape(str(output.get("ename", "Error")), quote=False)
        value = html.escape(str(output.get("evalue", "")), quote=False)
        head = f'<div class="error-head"><strong>{name}</strong>{": " + value if value else ""}</div>'
        trace = "\n".join(_text(line) for line in output.get("traceback") or [])
        details = f"<details><summary>Full traceback</summary>{_pre(trace, '')}</details>" if trace.strip() else ""
        return f'<div class="error-output" role="alert">{head}{details}</div>'
    if kind in ("execute_result", "display_data"):
        data = output.get("data") if isinstance(output.get("data"), dict) else {}
        metadata = output.get("metadata") if isinstance(output.get("metadata"), dict) else {}
        css = "result" if kind == "execute_result" else "display"
        return f'<div class="output {css}">{_bundle(data, metadata)}</div>'
    return ""


def outputs_html(outputs: Sequence[dict[str, Any]] | None) -> str:
    """Static HTML of a cell's outputs, in order (empty string for none)."""
    return "".join(output_html(o) for o in outputs or ())
