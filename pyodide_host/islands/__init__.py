"""Islands for documentation sites: marked code blocks on a page become live cells.  This
package holds the documentation-tool plugins that emit the islands markup, build-time
pre-rendering, and the installer of the runtime a site's pages load; it runs on CPython at
documentation build time and is not shipped into Pyodide (the browser side is
``web/src/islands/``).  It may import the standard library, :mod:`lifecycle`,
:mod:`pyodide_host.build` and :mod:`pyodide_host.export`, and the documentation tools it plugs
into (Sphinx, Python-Markdown, MkDocs) only in their own modules; ``js``/``pyodide`` only inside
Pyodide (so: never here); never ``subprocess_host``.

* :mod:`pyodide_host.islands.sphinx`: a Sphinx extension (``.. amphi-cell::``).
* :mod:`pyodide_host.islands.markdown`: a Python-Markdown extension (```` ```amphi ```` or
  ```` ```python {.amphi} ```` fenced blocks), entry point ``amphi``.
* :mod:`pyodide_host.islands.mkdocs_plugin`: an MkDocs plugin (entry point ``amphi``) that
  enables the Markdown extension, fixes the script URL per page and copies the runtime.
* :mod:`pyodide_host.islands.prerender`: running a page's islands at build time (subprocess
  kernel) and rendering their outputs as static HTML.

The markup every producer emits, and the browser side reads (``web/src/islands/``)::

    <div class="amphi-island" data-amphi-cell="ID" [data-amphi-autorun="false"]>
      <div class="amphi-code"><pre><code class="language-python">SOURCE</code></pre></div>
      <div class="amphi-output">pre-rendered outputs (optional)</div>
    </div>
    ...
    <script type="module" data-amphi-islands src="../_amphi/islands.js"></script>

``data-amphi-autorun`` (``"true"``/``"false"``) overrides, for one island, whether the page
runs it once loaded (default: every island runs).

Virtual files (``@file/...`` images, downloads, widget modules) need no service worker on
these pages: the islands script asks the in-browser kernel to push each file's bytes as it is
created and substitutes ``blob:`` URLs for the ``@file/`` URLs in the outputs
(:mod:`pyodide_host.file_push`, ``web/src/transport/blob-files.ts``).

``_amphi/`` (:data:`RUNTIME_DIR`) at the site root holds the runtime
(:func:`install_runtime`): Pyodide, the wheels, the web bundle with the worker, and the
loader ``islands.js`` (:data:`LOADER_NAME`) that tells the islands script where everything is.
"""

from __future__ import annotations

import html
import json
import logging
import posixpath
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_log = logging.getLogger("amphikernel.islands")

__all__ = [
    "ISLANDS_SCRIPT",
    "LOADER_NAME",
    "RUNTIME_DIR",
    "Island",
    "assign_ids",
    "check_id",
    "code_block_html",
    "install_runtime",
    "island_close",
    "island_html",
    "island_open",
    "loader_js",
    "parse_autorun",
    "relative_loader_url",
    "script_tag",
    "split_option_lines",
]

RUNTIME_DIR = "_amphi"
"""Directory, relative to the site root, the runtime is copied into."""

LOADER_NAME = "islands.js"
"""The loader inside :data:`RUNTIME_DIR` that pages reference with one script tag."""

ISLANDS_SCRIPT = "amphi-islands.js"
"""The islands entry of the web bundle (``web/src/islands/index.ts``); its stylesheet is
``amphi-islands.css`` next to it."""

_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$")


@dataclass
class Island:
    """One live code block.

    Args:
        source: the Python code.
        cell_id: its cell id on the page (``[A-Za-z0-9_][A-Za-z0-9_.:-]*``, at most 128
            characters), ``None`` for an automatic ``island-N`` (see :func:`assign_ids`).
        hide_code: show only the outputs (the code stays in the page, hidden).
        editable: offer the reader an Edit button.
        outputs: nbformat-4 output dicts from a build-time run (pre-rendered), or ``None``.
        autorun: run it when the page loads (``None``: the page's setting, by default yes).
    """

    source: str
    cell_id: str | None = None
    hide_code: bool = False
    editable: bool = True
    outputs: list[dict[str, Any]] | None = None
    autorun: bool | None = None


_TRUE = frozenset({"", "true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def parse_autorun(value: str | None) -> bool:
    """The value of an ``autorun`` option: absent or empty (a bare flag), ``true``/``yes``/
    ``on``/``1`` -> ``True``; ``false``/``no``/``off``/``0`` -> ``False`` (any case).

    Raises:
        ValueError: any other value.
    """
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"autorun must be true or false, not {value!r}")


_OPTION_LINE = re.compile(r"^:(?P<name>[A-Za-z][A-Za-z0-9_-]*):(?:[ \t]+(?P<value>.*?))?[ \t]*$")


def split_option_lines(lines: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """MyST's option syntax at the top of a fence's body: ``:name: value`` lines
    (``:hide-code:``, ``:id: setup``), or a ``---`` ... ``---`` block of ``name: value`` lines
    (flat YAML; a value may be quoted).  Returns ``(options, the remaining lines)``.  Short
    options end at the first line that is not one (a blank line right after them is dropped,
    as MyST does).  Python code never starts with ``:`` or ``---``, so a body without options
    is returned whole.
    """
    options: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is not None:
            for line in lines[1:end]:
                name, sep, value = line.partition(":")
                if sep and name.strip():
                    options[name.strip()] = value.strip().strip("\"'")
            return options, list(lines[end + 1 :])
    n = 0
    while n < len(lines):
        match = _OPTION_LINE.match(lines[n])
        if not match:
            break
        options[match.group("name")] = match.group("value") or ""
        n += 1
    if options and n < len(lines) and not lines[n].strip():
        n += 1
    return options, list(lines[n:])


def check_id(cell_id: str) -> str:
    """Validate an author-given cell id.

    Raises:
        ValueError: empty, longer than 128 characters, or with characters other than
            letters, digits and ``_ . : -`` (the first one a letter, digit or ``_``).
    """
    if not _ID_RE.match(cell_id):
        raise ValueError(
            f"invalid island id {cell_id!r}: use letters, digits and _ . : - (at most 128 characters)"
        )
    return cell_id


def assign_ids(ids: Sequence[str | None]) -> list[str]:
    """Cell ids for a page's islands, in reading order: given ids are kept, missing ones
    become ``island-N`` (``N`` the island's 1-based position, skipping ids already taken).

    Raises:
        ValueError: an id is given twice, or is invalid (:func:`check_id`).
    """
    taken: set[str] = set()
    for cell_id in ids:
        if cell_id is None:
            continue
        check_id(cell_id)
        if cell_id in taken:
            raise ValueError(f"island id {cell_id!r} is used twice on the page")
        taken.add(cell_id)
    out: list[str] = []
    for position, cell_id in enumerate(ids, 1):
        if cell_id is None:
            candidate, n = f"island-{position}", position
            while candidate in taken:
                n += 1
                candidate = f"island-{n}"
            cell_id = candidate
            taken.add(cell_id)
        out.append(cell_id)
    return out


def code_block_html(source: str, language: str = "python") -> str:
    """``<pre><code class="language-python">…</code></pre>`` with the source escaped
    (client-side highlighters such as highlight.js pick the class up)."""
    return f'<pre><code class="language-{html.escape(language, quote=True)}">{html.escape(source, quote=False)}</code></pre>'


def island_open(cell_id: str, *, hide_code: bool = False, editable: bool = True, autorun: bool | None = None) -> str:
    """The opening tags of an island up to (and including) ``<div class="amphi-code">``
    (``autorun``: ``None`` leaves it to the page)."""
    classes = ["amphi-island"]
    if not editable:
        classes.append("amphi-no-edit")
    hidden = " hidden" if hide_code else ""
    run = "" if autorun is None else f' data-amphi-autorun="{"true" if autorun else "false"}"'
    return (
        f'<div class="{" ".join(classes)}" data-amphi-cell="{html.escape(cell_id, quote=True)}"{run}>'
        f'<div class="amphi-code"{hidden}>'
    )


def island_close(outputs_html: str = "") -> str:
    """The closing tags of an island after its code: the output area (pre-rendered outputs
    inside) and the island's end."""
    inner = f'<div class="amphi-prerendered">{outputs_html}</div>' if outputs_html else ""
    return f'</div><div class="amphi-output">{inner}</div></div>'


def island_html(island: Island, cell_id: str, *, code_html: str | None = None) -> str:
    """The markup of one island.

    Args:
        island: the block (its pre-rendered ``outputs`` are rendered as static HTML).
        cell_id: its id on the page.
        code_html: the code as HTML (e.g. highlighted); default :func:`code_block_html`.
    """
    from pyodide_host.islands.prerender import outputs_html

    code = code_block_html(island.source) if code_html is None else code_html
    rendered = outputs_html(island.outputs) if island.outputs else ""
    opening = island_open(cell_id, hide_code=island.hide_code, editable=island.editable, autorun=island.autorun)
    return opening + code + island_close(rendered)


def script_tag(src: str) -> str:
    """The one script tag a page with islands needs (``src``: URL of the loader, usually
    relative to the page, e.g. ``../_amphi/islands.js``)."""
    return f'<script type="module" data-amphi-islands src="{html.escape(src, quote=True)}"></script>'


def relative_loader_url(depth: int, runtime_dir: str = RUNTIME_DIR) -> str:
    """The loader's URL from a page ``depth`` directories below the site root."""
    return posixpath.join(*([".."] * depth), runtime_dir, LOADER_NAME) if depth else f"{runtime_dir}/{LOADER_NAME}"


# ------------------------------------------------------------------------------ runtime


def loader_js(
    *,
    worker: str,
    islands_script: str,
    islands_css: str,
    worker_options: dict[str, Any] | None = None,
    service_worker: str | None = None,
) -> str:
    """The loader module written to ``<site>/_amphi/islands.js``.

    Every URL argument is relative to the loader's directory (``_amphi/``); the loader turns
    them into absolute URLs (``import.meta.url``), publishes them as ``globalThis.amphiIslands``
    (a page may pre-set fields to override them) and imports the islands script.
    """

    def here(path: str) -> str:
        return f"here({json.dumps(path)})"

    fields = [f"worker: {here(worker)}", f"css: {here(islands_css)}"]
    if service_worker:
        fields.append(f"serviceWorker: {here(service_worker)}")
    if worker_options:
        fields.append(f"workerOptions: {json.dumps(worker_options, sort_keys=True)}")
    body = ",\n  ".join(fields)
    return (
        "// amphikernel islands loader (written by pyodide_host.islands.install_runtime).\n"
        "// Pages load it with <script type=\"module\" data-amphi-islands src=\".../islands.js\">.\n"
        "const here = (path) => new URL(path, import.meta.url).href;\n"
        f"globalThis.amphiIslands = {{\n  {body},\n  ...globalThis.amphiIslands,\n}};\n"
        f"await import({here(islands_script)});\n"
    )


def _bundle_dir() -> Path:
    """The built frontend bundle (``npm run build`` in ``web/``), shipped in the wheel as
    package data of ``subprocess_host`` (found by path: pyodide_host imports no server code)."""
    from pyodide_host.build import REPO

    return REPO / "subprocess_host" / "static" / "app"


def _copy_islands_bundle(source: Path, target: Path) -> None:
    """Copy the islands script, its stylesheet and the chunks it imports (the whole
    ``chunks/`` folder) from a built bundle directory."""
    target.mkdir(parents=True, exist_ok=True)
    for name in (ISLANDS_SCRIPT, ISLANDS_SCRIPT.replace(".js", ".css")):
        shutil.copy2(source / name, target / name)
    if (source / "chunks").is_dir():
        shutil.copytree(source / "chunks", target / "chunks", dirs_exist_ok=True)


def install_runtime(
    site_dir: str | Path,
    *,
    requirements: Iterable[str] = (),
    runtime_dir: str = RUNTIME_DIR,
    worker_options: dict[str, Any] | None = None,
    progress: Callable[[str, float | None], None] | None = None,
    memory_snapshot: bool = True,
    imports: Iterable[str] = (),
) -> Any:
    """Copy everything a page with islands needs into ``<site_dir>/<runtime_dir>/`` and
    write the loader (:data:`LOADER_NAME`) there.

    Args:
        site_dir: the built site's root directory.
        requirements: extra packages (PEP 508 strings): ``write_runtime`` resolves their
            wheels (with dependencies) into the runtime's lock, and the worker loads them at
            boot (its ``packages`` option).
        runtime_dir: the runtime's directory relative to ``site_dir`` (one path segment).
        worker_options: extra ``init`` options for the worker (merged into the loader).
        progress: ``(stage, fraction or None)`` callback forwarded to ``write_runtime``.
        memory_snapshot: also write the runtime's memory snapshot (Node.js at build time;
            :mod:`pyodide_host.export.snapshot`) with amphikernel, the ``requirements`` and
            ``imports`` already imported: pages restore it instead of booting Python.  Without
            Node.js, or if it cannot be made, a warning is logged and pages boot as usual.
        imports: module names the islands import, imported into the snapshot when the runtime
            can provide them.

    Returns:
        The ``RuntimeAssets`` of :func:`pyodide_host.export.write_runtime` (URLs relative
        to the runtime directory).

    Raises:
        RuntimeError: the web bundle has no islands script (``npm run build`` in ``web/``),
            or ``pyodide_host.export`` is not available; ``write_runtime``'s
            ``ExportError``/``BuildError`` (both ``RuntimeError``) when the runtime cannot be
            assembled.
    """
    try:
        from pyodide_host.export import write_runtime  # type: ignore[attr-defined]
    except ImportError as exc:
        raise RuntimeError(f"the Pyodide runtime writer is not available: {exc}") from exc
    dest = Path(site_dir) / runtime_dir
    dest.mkdir(parents=True, exist_ok=True)
    assets = write_runtime(dest, requirements=tuple(requirements), progress=progress)
    made = None
    if memory_snapshot:
        from pyodide_host.export.snapshot import add_memory_snapshot, package_imports

        runtime = dest / assets.pyodide_index
        wanted = [*package_imports(runtime, assets.requirements), *imports]
        made = add_memory_snapshot(runtime, imports=wanted, packages=assets.requirements, notice=_log.warning)
    bundle_rel = posixpath.dirname(assets.bundle_js)
    islands_rel = posixpath.join(bundle_rel, ISLANDS_SCRIPT) if bundle_rel else ISLANDS_SCRIPT
    if not (dest / islands_rel).is_file():  # write_runtime copied only what the app needs
        source = _bundle_dir()
        if not (source / ISLANDS_SCRIPT).is_file():
            raise RuntimeError(f"the web bundle has no {ISLANDS_SCRIPT} ({source}): run `npm run build` in web/")
        _copy_islands_bundle(source, dest / bundle_rel)
    options: dict[str, Any] = {"packages": list(assets.requirements)} if assets.requirements else {}
    if not memory_snapshot or made is None:  # none in the runtime: the worker need not look
        options["memorySnapshot"] = False
    options.update(worker_options or {})  # loaded from the site's own lock at boot
    (dest / LOADER_NAME).write_text(
        loader_js(
            worker=assets.worker,
            islands_script=islands_rel,
            islands_css=islands_rel[: -len(".js")] + ".css",
            worker_options=options or None,
        ),
        encoding="utf-8",
    )
    return assets
