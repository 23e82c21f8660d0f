"""``amphi export html-wasm``: one notebook as a self-contained static site
(:func:`export_html_wasm`, :class:`ExportResult`).

CPython only; imports the standard library, :mod:`lifecycle`, :mod:`pyodide_host.build` and
the sibling modules.  Running the notebook for its outputs (``include_outputs``) is the
caller's :data:`RunNotebook` (``amphi`` passes the subprocess kernel's headless runner):
:mod:`pyodide_host` never imports ``subprocess_host``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyodide_host.export.assets as _assets
from pyodide_host.build.common import normalize
from pyodide_host.export.assets import RuntimeAssets, write_runtime
from pyodide_host.export.common import ExportError, Progress, report, requirement_name
from pyodide_host.export.fetch import OnBytes
from pyodide_host.export.notebook import VirtualFileCapture, notebook_requirements, outputs_frames
from pyodide_host.export.page import render_index
from pyodide_host.export.runtime import Notice, cache_layout, locate_runtime
from pyodide_host.export.wheels import resolvable, resolve_requirements
from pyodide_host.imports import project_for_import

__all__ = ["ExportResult", "RunNotebook", "export_html_wasm"]

RunNotebook = Callable[..., Any]
"""How ``include_outputs`` runs the notebook:
``run(nb, *, cwd, python, timeout, on_notification) -> result``, where ``result.notebook`` holds
the cells with their nbformat outputs and ``result.failed_cells`` the ids of cells that raised
(:func:`subprocess_host.headless.run_in_subprocess`).  It raises ``RuntimeError`` when the
kernel cannot start, ``TimeoutError`` when the run takes longer than ``timeout``."""


@dataclass
class ExportResult:
    """What :func:`export_html_wasm` wrote.

    Attributes:
        directory: the site directory.
        index: its ``index.html``.
        assets: the runtime (see :class:`RuntimeAssets`).
        requirements: requirements resolved into the site (explicit + detected).
        skipped: detected imports that could not be resolved: import name -> reason (the
            notebook will show the import error in the browser).
        failed_cells: with ``include_outputs``, cells that raised during the export run.
    """

    directory: Path
    index: Path
    assets: RuntimeAssets
    requirements: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    failed_cells: list[str] = field(default_factory=list)
    snapshot: Any = None
    """The :class:`~pyodide_host.build.snapshot.SnapshotInfo` of the memory snapshot written,
    or ``None``."""


def export_html_wasm(
    notebook: Path,
    out: Path,
    *,
    mode: str = "run",
    include_outputs: bool = False,
    requirements: Sequence[str] = (),
    index_urls: Sequence[str] = (),
    detect_imports: bool = True,
    timeout: float = 600,
    python: str | None = None,
    progress: Progress | None = None,
    run_notebook: RunNotebook | None = None,
    pyodide_dir: Path | str | None = None,
    on_bytes: OnBytes | None = None,
    notice: Notice | None = None,
    memory_snapshot: bool = True,
) -> ExportResult:
    """Export a notebook as a self-contained static site that runs it in the browser.

    Args:
        notebook: a percent-format ``.py`` or an ``.ipynb``.
        out: the site directory (created; files of an earlier export are replaced).
        mode: ``"run"`` (an app: outputs only) or ``"edit"`` (the editor; saving is not
            possible in a browser, the page offers a download of the ``.py`` instead, which
            keeps the file's header and unedited cells byte for byte).
        include_outputs: run the notebook now (kernel subprocess, with ``run_notebook``) and
            ship its outputs, shown before Python is ready in the browser.
        requirements: extra PEP 508 requirements to ship (with their dependencies).
        index_urls: package indexes micropip may use in the browser after the site's own
            ``simple/`` (PyPI-style simple or JSON API URLs, e.g. ``https://pypi.org/simple``).
        detect_imports: also ship the PyPI projects of the third-party modules the cells
            import (those without a wheel for Pyodide are reported in
            :attr:`ExportResult.skipped`).
        timeout: seconds allowed for the run of ``include_outputs``.
        python: interpreter for that run (default: this one).
        progress: ``progress(message, fraction)`` callback.
        run_notebook: runs the notebook for ``include_outputs`` (see :data:`RunNotebook`;
            ``amphi export`` passes :func:`subprocess_host.headless.run_in_subprocess`).
        pyodide_dir: a local folder holding the pinned runtime and wheels (``--pyodide-dir``;
            see :func:`~pyodide_host.export.runtime.locate_runtime`).
        on_bytes: download progress callback (:data:`~pyodide_host.export.fetch.OnBytes`).
        notice: called with one-line notices (a damaged cache entry fetched again, no memory
            snapshot made).
        memory_snapshot: also write the runtime's memory snapshot (Node.js at export time;
            :mod:`pyodide_host.export.snapshot`): pages restore Python with msgspec, amphikernel
            and the notebook's importable modules already imported instead of booting it.

    Returns:
        An :class:`ExportResult`.

    Raises:
        ExportError: unreadable notebook, unbuilt bundle, a runtime that cannot be had
            (no network and nothing cached: the message names the files and ``--pyodide-dir``),
            unresolvable declared requirement, a failure writing the runtime, ``include_outputs`` without ``run_notebook``, or a
            kernel that did not start for that run.
        TimeoutError: the ``include_outputs`` run took longer than ``timeout``.
    """
    from lifecycle.notebook import NotebookFormatError, read_notebook

    if mode not in ("run", "edit"):
        raise ExportError(f"mode must be 'run' or 'edit', not {mode!r}")
    if include_outputs and run_notebook is None:
        raise ExportError("include_outputs needs run_notebook (e.g. subprocess_host.headless.run_in_subprocess)")
    notebook = Path(notebook)
    try:
        nb = read_notebook(notebook)
    except (NotebookFormatError, OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read {notebook}: {exc}") from None
    out = Path(out)
    _assets.check_bundle(_assets.BUNDLE_DIR)
    declared, imported = notebook_requirements(nb)
    wanted = [*requirements, *declared]
    skipped: dict[str, str] = {}
    report(progress, "Pyodide runtime and wheels", 0.0)
    located = locate_runtime(pyodide_dir, on_bytes=on_bytes, notice=notice)
    if detect_imports and imported:
        layout = cache_layout()
        runtime = located.info
        named = {requirement_name(r) for r in wanted}
        detected = {n: project_for_import(n) for n in imported}
        detected = {n: p for n, p in detected.items() if normalize(p) not in named}
        try:  # all at once first: cached, so a repeated export needs no network
            resolve_requirements([*wanted, *detected.values()], runtime, layout)
            wanted += list(dict.fromkeys(detected.values()))
        except ExportError:
            for index, (name, project) in enumerate(detected.items()):
                report(progress, f"looking up {project} on PyPI (imported as {name})", 0.05 * index / len(detected))
                ok, why = resolvable(project, runtime)
                if ok and project not in wanted:
                    wanted.append(project)
                elif not ok:
                    skipped[name] = f"no wheel of {project!r} for Pyodide ({runtime.wheel_platforms[0]} or pure Python): {why}"

    def runtime_progress(message: str, fraction: float | None) -> None:
        share = 0.6 if include_outputs else 0.9
        report(progress, message, None if fraction is None else 0.05 + share * fraction)

    assets = write_runtime(out, requirements=wanted, progress=runtime_progress, runtime=located)
    snapshot = None
    if memory_snapshot:
        from pyodide_host.export.snapshot import add_memory_snapshot, notebook_imports

        report(progress, "making the Python memory snapshot", 0.66 if include_outputs else 0.9)
        snapshot = add_memory_snapshot(out / assets.pyodide_index, imports=notebook_imports(nb), notice=notice)
    failed: list[str] = []
    outputs_url: str | None = None
    if include_outputs and run_notebook is not None:
        report(progress, "running the notebook for its outputs", 0.7)
        files = VirtualFileCapture()
        try:
            result = run_notebook(
                nb, cwd=str(notebook.resolve().parent), python=python, timeout=timeout, on_notification=files
            )
        except ExportError:
            raise
        except RuntimeError as exc:  # the kernel did not start (subprocess_host's KernelStartError)
            raise ExportError(f"cannot run the notebook for its outputs: {exc}") from None
        failed = list(result.failed_cells)
        (out / "outputs.msgpack").write_bytes(outputs_frames(result.notebook))
        outputs_url = "outputs.msgpack"
        files.write(out)
    else:
        for stale in (out / "outputs.msgpack", out / "@file"):
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
    report(progress, "writing index.html", 0.95)
    source_name = notebook.name if notebook.suffix == ".py" else notebook.stem + ".py"
    if notebook.suffix == ".py":
        shutil.copyfile(notebook, out / source_name)
    else:
        from lifecycle.notebook import dumps_percent

        (out / source_name).write_text(dumps_percent(nb), encoding="utf-8")
    cells = [
        {"id": c.id, "kind": c.kind, "source": c.source, "name": c.name, "options": dict(c.options)}
        for c in nb.cells
    ]
    worker_options: dict[str, Any] = {
        "mode": mode,
        "notebook": {"cells": cells, "path": source_name, "semantics": nb.semantics},
        "indexURLs": [assets.simple_index, *index_urls],
        "autorun": True,
        "filename": source_name,
    }
    if outputs_url:
        worker_options["outputsURL"] = outputs_url
    if snapshot is None:  # none in the site: the worker need not look for one
        worker_options["memorySnapshot"] = False
    if mode == "edit":  # the download keeps the file's header and unedited cells as they are
        worker_options["sourceURL"] = source_name
    config = {
        "transport": "worker",
        "worker": assets.worker,
        "serviceWorker": assets.service_worker,
        "mode": mode,
        "path": source_name,
        "workerOptions": worker_options,
    }
    template = (_assets.BUNDLE_DIR / "index.html").read_text(encoding="utf-8")
    index = out / "index.html"
    index.write_text(render_index(template, title=notebook.stem, config=config), encoding="utf-8")
    (out / ".nojekyll").write_text("")
    report(progress, f"exported to {out}", 1.0)
    return ExportResult(
        directory=out,
        index=index,
        assets=assets,
        requirements=list(wanted),
        skipped=skipped,
        failed_cells=failed,
        snapshot=snapshot,
    )
