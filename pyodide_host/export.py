"""Static sites that run notebooks in the browser (CPython side; not shipped in the Pyodide wheel).

Two entry points:

* :func:`write_runtime` writes everything a page needs to run a kernel in a Web Worker:
  the Pyodide runtime (npm ``pyodide`` package) with a ``pyodide-lock.json`` listing our wheel,
  msgspec's wasm wheel, micropip and any extra pure-Python requirements (resolved from PyPI
  for Pyodide's platform, their ``.py`` precompiled to ``.pyc`` by Pyodide's own interpreter
  under Node), a local PEP 503 ``simple/`` index holding the same wheels, the web bundle with
  the worker script, and the service worker (``@file/`` virtual files + the npm
  ``coi-serviceworker`` for cross-origin isolation).  Islands (documentation pages) and
  :func:`export_html_wasm` both use it.
* :func:`export_html_wasm` (``amphi export html-wasm NOTEBOOK -o DIR``) adds an
  ``index.html`` for one notebook, a copy of the notebook, and optionally the outputs of a run
  at export time (``outputs.msgpack``) shown before Python is ready.

Layout written into ``dest`` (every URL in :class:`RuntimeAssets` is relative to ``dest``)::

    app.js app.css chunks/   the page bundle (web/, built by `npm run build`)
    worker.js                the kernel's module worker (boots Pyodide, speaks the Worker transport)
    sw.js coi-serviceworker.js
    pyodide/                 pyodide.mjs, pyodide.asm.*, python_stdlib.zip, pyodide-lock.json, *.whl
    simple/                  PEP 503 index: simple/<project>/index.html -> ../../pyodide/<wheel>

Nothing is fetched from a CDN, at build time or in the browser: the runtime comes from npm,
wheels from PyPI (``pip download``), all cached under ``build/pyodide/``.

Errors are :class:`ExportError` (a :class:`~pyodide_host.build.BuildError`) with a one-line
message.
"""

from __future__ import annotations

import ast
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyodide_host import build as _build
from pyodide_host.build import BuildError, Layout, RuntimeInfo
from pyodide_host.imports import project_for_import

__all__ = [
    "ExportError",
    "ExportResult",
    "Progress",
    "RuntimeAssets",
    "export_html_wasm",
    "notebook_requirements",
    "write_runtime",
]

Progress = Callable[[str, "float | None"], None]
"""``progress(message, fraction)``: what is happening, and how far the whole job is (0..1, or
``None`` when unknown)."""

BUNDLE_DIR = _build.REPO / "subprocess_host" / "static" / "app"
"""Where ``npm run build`` (web/) writes the page bundle, the worker and the service worker."""

BUNDLE_REQUIRED = ("app.js", "app.css", "worker.js", "sw.js", "coi-serviceworker.js")

OURS = frozenset({"lifecycle", "pyodide_host", "subprocess_host", "amphikernel"})
"""Import names that are ours (in the amphikernel wheel, or host-only)."""

IN_RUNTIME = frozenset({"msgspec", "micropip", "pyodide", "pyodide_js", "js", "_pyodide"})
"""Importable in every page without a wheel of the notebook's own."""


class ExportError(BuildError):
    """Exporting failed; the message is one line saying what and why."""


@dataclass(frozen=True)
class RuntimeAssets:
    """What :func:`write_runtime` wrote; every URL is relative to its ``dest``.

    Attributes:
        worker: the kernel's module worker script (``new Worker(url, {type: "module"})``).
        bundle_js: the page bundle's entry (``<script type="module">``).
        bundle_css: the page bundle's stylesheet.
        service_worker: the service worker to register (scope: ``dest``): serves ``@file/``
            virtual files from the kernel and adds COOP/COEP headers (coi-serviceworker).
        pyodide_index: directory (trailing ``/``) holding ``pyodide.mjs`` and
            ``pyodide-lock.json`` (the worker's ``pyodideIndexURL``).
        simple_index: the local PEP 503 index (trailing ``/``; the worker's ``indexURLs``).
        coi_service_worker: the npm coi-serviceworker script (imported by ``service_worker``).
        packages: lock names of every wheel in ``pyodide_index`` (normalised, sorted).
        requirements: the extra requirements' projects written (normalised), in request order.
    """

    worker: str = "worker.js"
    bundle_js: str = "app.js"
    bundle_css: str = "app.css"
    service_worker: str = "sw.js"
    pyodide_index: str = "pyodide/"
    simple_index: str = "simple/"
    coi_service_worker: str = "coi-serviceworker.js"
    packages: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()


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


def _report(progress: Progress | None, message: str, fraction: float | None) -> None:
    if progress is not None:
        progress(message, None if fraction is None else max(0.0, min(1.0, fraction)))


# ------------------------------------------------------------------------ requirements


def _requirement_name(text: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
    if match is None:
        raise ExportError(f"not a package requirement: {text!r}")
    return _build._normalize(match.group(1))


def _pip_download(requirements: Sequence[str], runtime: RuntimeInfo, dest: Path, *, deps: bool) -> tuple[bool, str]:
    cmd = [
        sys.executable, "-m", "pip", "download", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "-q",
        "--python-version", runtime.python_version, "--implementation", "cp",
        "--abi", runtime.cp_tag, "--abi", "abi3", "--abi", "none",
        "--platform", runtime.wheel_platforms[0], "--platform", "any",
        "-d", str(dest),
        *([] if deps else ["--no-deps"]),
        *requirements,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return proc.returncode == 0, _build._last_line(proc.stderr or proc.stdout)


def resolve_requirements(
    requirements: Sequence[str],
    runtime: RuntimeInfo,
    layout: Layout,
    *,
    exclude: Iterable[str] = (),
) -> list[Path]:
    """Download wheels for ``requirements`` and their dependencies for Pyodide's platform
    (pure wheels, or ``pyemscripten`` wheels of this runtime) from the configured package
    index (PyPI), cached in ``layout.root/export-wheels`` (a repeated export of the same
    requirements does not touch the network).

    Args:
        requirements: PEP 508 requirement strings (``"tabulate==0.9.0"``).
        runtime: the Pyodide runtime (interpreter and platform tags).
        layout: the build layout (cache location).
        exclude: normalised project names already provided (their wheels are dropped).

    Returns:
        One wheel per project, sorted by file name.

    Raises:
        ExportError: pip cannot resolve them (the message names pip's error).
    """
    if not requirements:
        return []
    cache = layout.root / "export-wheels"
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(
        json.dumps([sorted(requirements), runtime.python, runtime.abi_version]).encode()
    ).hexdigest()[:24]
    manifest = cache / f"resolved-{key}.json"
    files: list[str] | None = None
    if manifest.is_file():
        files = json.loads(manifest.read_text())
        if not all((cache / f).is_file() for f in files):
            files = None
    if files is None:
        with tempfile.TemporaryDirectory(prefix="amphi-pip-") as tmp:
            ok, why = _pip_download(list(requirements), runtime, Path(tmp), deps=True)
            if not ok:
                raise ExportError(f"cannot get wheels for {', '.join(requirements)} for Pyodide: {why}")
            files = sorted(p.name for p in Path(tmp).glob("*.whl"))
            for name in files:
                shutil.copyfile(Path(tmp) / name, cache / name)
        manifest.write_text(json.dumps(files))
    excluded = {_build._normalize(n) for n in exclude}
    out = []
    for name in files:
        project, _, _ = _build._wheel_parts(name)
        if project in excluded:
            continue
        _build.check_compatible(name, runtime)
        out.append(cache / name)
    return out


def _precompile(wheels: list[Path], package: Path, layout: Layout, *, quiet: bool = True) -> list[Path]:
    """Pure wheels with bytecode compiled inside Pyodide (one Node run for all that are not
    cached yet); binary wheels are returned unchanged."""
    here = Path(_build.__file__).resolve().parent
    script = here / "compile_in_pyodide.py"
    runner = here.parent / "node" / "compile_wheel.mjs"
    tool_key = hashlib.sha256(
        script.read_bytes() + runner.read_bytes() + (package / "pyodide-lock.json").read_bytes()
    ).hexdigest()[:16]
    out: list[Path] = []
    todo: list[tuple[Path, Path]] = []
    for wheel in wheels:
        if not wheel.name.endswith("-none-any.whl"):
            out.append(wheel)
            continue
        target = layout.root / "compiled" / f"{_build._sha256(wheel)[:24]}-{tool_key}" / wheel.name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            todo.append((wheel, target))
        out.append(target)
    if todo:
        node = shutil.which("node")
        if node is None:
            raise ExportError("node not found on PATH (needed to precompile wheels in Pyodide)")
        with tempfile.TemporaryDirectory(prefix="amphi-compile-") as tmp:
            pairs = [(str(src), str(Path(tmp) / f"{i}.whl")) for i, (src, _) in enumerate(todo)]
            (Path(tmp) / "pairs.json").write_text(json.dumps(pairs))
            proc = subprocess.run(
                [node, str(runner), "--pyodide", str(package), "--pairs", str(Path(tmp) / "pairs.json"),
                 "--script", str(script)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                raise ExportError(f"precompiling wheels in Pyodide failed: {_build._last_line(proc.stderr or proc.stdout)}")
            for (_, compiled), (_, target) in zip(pairs, todo):
                os.replace(compiled, target)
    return out


# ---------------------------------------------------------------------------- runtime


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    _build._link_or_copy(source, target)


def _write_simple_index(root: Path, entries: dict[str, dict], wheel_dir: str) -> None:
    """PEP 503 index with relative links (micropip resolves them against the page URL)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    names = sorted(entries)
    links = "".join(f'<a href="{html.escape(n)}/">{html.escape(n)}</a>\n' for n in names)
    (root / "index.html").write_text(
        f"<!doctype html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\">"
        f"<title>Simple index</title></head><body>\n{links}</body></html>\n"
    )
    for name in names:
        entry = entries[name]
        file_name = entry["file_name"]
        href = f"../../{wheel_dir}{file_name}#sha256={entry['sha256']}"
        project = root / name
        project.mkdir()
        (project / "index.html").write_text(
            f"<!doctype html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\">"
            f"<title>Links for {html.escape(name)}</title></head><body>\n"
            f'<a href="{html.escape(href)}">{html.escape(file_name)}</a>\n</body></html>\n'
        )


def _check_bundle(bundle: Path) -> None:
    missing = [n for n in BUNDLE_REQUIRED if not (bundle / n).is_file()]
    if missing:
        raise ExportError(
            f"the web bundle in {bundle} lacks {', '.join(missing)}: run `npm ci && npm run build` in web/"
        )


def write_runtime(
    dest: Path,
    *,
    requirements: Sequence[str] = (),
    progress: Callable[[str, float | None], None] | None = None,
) -> RuntimeAssets:
    """Write into ``dest`` everything a page needs to run a kernel in a Web Worker.

    ``dest`` gets the page bundle (``app.js``, ``app.css``, ``chunks/``), the kernel worker
    (``worker.js``), the service worker (``sw.js`` + ``coi-serviceworker.js``), the Pyodide
    runtime with its lock and wheels (``pyodide/``) and a PEP 503 index of the same wheels
    (``simple/``).  Files of an earlier call are replaced; other files in ``dest`` are left
    alone.  A page loads ``bundle_js``/``bundle_css`` and creates the worker from ``worker``;
    with its defaults the worker finds the runtime at ``./pyodide/`` and the index at
    ``./simple/`` next to itself (see ``web/src/transport/worker-contract.ts`` for its
    options).  Everything is cached under ``build/pyodide/``; the first call needs npm and
    PyPI (and ``node`` to precompile wheels), later calls with the same requirements none.

    Args:
        dest: the directory to write (created if missing).
        requirements: extra PEP 508 requirements (pure-Python wheels, or wheels built for
            this Pyodide) to resolve from PyPI with their dependencies, put in the lock and the
            local index, so an ``import`` of them in a cell installs from the site itself.
        progress: ``progress(message, fraction)`` called as the work advances (``fraction``
            0..1 for the whole call, ``None`` when unknown).

    Returns:
        The :class:`RuntimeAssets` (URLs relative to ``dest``).

    Raises:
        ExportError: the bundle is not built, or a wheel cannot be resolved, downloaded or
            compiled (one-line message).
        pyodide_host.build.BuildError: the runtime could not be assembled (npm, pip, node).
    """
    dest = Path(dest)
    layout = _build.default_layout()
    _check_bundle(BUNDLE_DIR)
    _report(progress, "Pyodide runtime (npm)", 0.0)
    package = _build.ensure_npm(layout, quiet=True)
    runtime = _build.runtime_info(package)
    _report(progress, "runtime wheels (msgspec, micropip)", 0.1)
    wheels = _build.ensure_wheels(layout, _build.RUNTIME_WHEELS, runtime, quiet=True)
    _report(progress, "amphikernel wheel (bytecode compiled in Pyodide)", 0.2)
    wheels.append(_build.build_our_wheel(layout, package, quiet=True))
    provided = {_build._wheel_parts(w.name)[0] for w in wheels}
    extra: list[Path] = []
    if requirements:
        _report(progress, f"resolving {', '.join(requirements)} from PyPI", 0.35)
        extra = resolve_requirements(requirements, runtime, layout, exclude=provided)
        _report(progress, f"precompiling {len(extra)} wheel(s) in Pyodide", 0.55)
        extra = _precompile(extra, package, layout)
    wheels += extra
    _report(progress, "writing the Pyodide runtime and lock", 0.75)
    try:
        entries = _build.lock_entries(wheels, runtime)
    except BuildError as exc:
        raise ExportError(str(exc)) from None
    assets = RuntimeAssets(
        packages=tuple(sorted(entries)),
        requirements=tuple(_requirement_name(r) for r in requirements),
    )
    dest.mkdir(parents=True, exist_ok=True)
    pyodide_dir = dest / assets.pyodide_index
    if pyodide_dir.exists():
        shutil.rmtree(pyodide_dir)
    pyodide_dir.mkdir(parents=True)
    _build.write_runtime_dir(pyodide_dir, package, wheels, runtime, entries)
    _write_simple_index(dest / assets.simple_index, entries, assets.pyodide_index)
    _report(progress, "copying the web bundle and service worker", 0.9)
    if (dest / "chunks").exists():
        shutil.rmtree(dest / "chunks")
    for source in sorted(BUNDLE_DIR.rglob("*")):
        rel = source.relative_to(BUNDLE_DIR)
        if source.is_file() and rel.name not in (".gitignore", "index.html"):
            _copy(source, dest / rel)
    _report(progress, "runtime written", 1.0)
    return assets


# ----------------------------------------------------------------------------- notebook


def _pep723_dependencies(header: str) -> list[str]:
    """``dependencies`` of a PEP 723 ``# /// script`` block in a notebook header."""
    match = re.search(r"^# /// script\s*$(?P<body>(?:\n#(?: .*)?$)+?)\n# ///\s*$", header, re.MULTILINE)
    if match is None:
        return []
    body = "\n".join(line[2:] if line.startswith("# ") else line[1:] for line in match["body"].strip("\n").splitlines())
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return []
    try:
        deps = tomllib.loads(body).get("dependencies", [])
    except tomllib.TOMLDecodeError as exc:
        raise ExportError(f"the notebook's PEP 723 block is not valid TOML: {exc}") from None
    return [str(d) for d in deps if isinstance(d, str)]


def _imported_names(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module.split(".")[0])
    return names


def notebook_requirements(nb: Any) -> tuple[list[str], list[str]]:
    """The requirements a notebook declares and the third-party imports it makes.

    Args:
        nb: a :class:`lifecycle.notebook.Notebook`.

    Returns:
        ``(declared, imported)``: the ``dependencies`` of its PEP 723 header, and the top-level
        import names of its code cells that are neither in the standard library, nor ours, nor
        in every Pyodide page (in first-use order, each once).
    """
    declared = _pep723_dependencies(nb.header)
    seen: list[str] = []
    stdlib = set(sys.stdlib_module_names)
    for cell in nb.cells:
        if cell.kind != "code":
            continue
        for name in _imported_names(cell.source):
            if name in stdlib or name in OURS or name in IN_RUNTIME or name.startswith("_") or name in seen:
                continue
            seen.append(name)
    return declared, seen


def _resolvable(requirement: str, runtime: RuntimeInfo) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="amphi-probe-") as tmp:
        return _pip_download([requirement], runtime, Path(tmp), deps=False)


def _outputs_frames(nb: Any) -> bytes:
    """The outputs of a run (nbformat dicts in ``nb``'s cells) as a msgpack array of
    kernel notifications (``cell-output``, ``cell-console``, ``cell-error``)."""
    import msgspec

    from lifecycle import protocol

    notes: list[Any] = []
    for cell in nb.cells:
        if cell.kind != "code":
            continue
        for output in cell.outputs:
            kind = output.get("output_type")
            if kind == "stream":
                text = output.get("text", "")
                notes.append(protocol.CellConsole(cell_id=cell.id, stream="stderr" if output.get("name") == "stderr" else "stdout",
                                                  text="".join(text) if isinstance(text, list) else str(text)))
            elif kind in ("execute_result", "display_data"):
                notes.append(protocol.CellOutput(
                    cell_id=cell.id, data=dict(output.get("data", {})), metadata=dict(output.get("metadata", {})),
                    kind="result" if kind == "execute_result" else "display",
                ))
            elif kind == "error":
                tb = output.get("traceback", [])
                notes.append(protocol.CellError(
                    cell_id=cell.id, ename=str(output.get("ename", "")), evalue=str(output.get("evalue", "")),
                    traceback="\n".join(tb) if isinstance(tb, list) else str(tb),
                ))  # fmt: skip
    return msgspec.msgpack.encode(notes)


class _VirtualFileCapture:
    """Keeps the bytes of the virtual files an export-time run creates (read from the kernel's
    shared memory as each ``virtual-file`` notice arrives), so the pre-rendered outputs'
    ``@file/`` URLs are served by the site until the browser's kernel has run the cells."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def __call__(self, note: Any) -> None:
        from lifecycle import protocol
        from lifecycle.virtual_files import read_shared

        if not isinstance(note, protocol.VirtualFileNotice):
            return
        if note.released:
            self.files.pop(note.url, None)
            return
        if note.shm_name:
            try:
                self.files[note.url] = read_shared(note.shm_name, note.size)
            except (OSError, ValueError):  # already gone: the output will show a broken link
                pass

    def write(self, site: Path) -> None:
        """Write each file at its URL's path under ``site`` (``@file/<id>-<name>``)."""
        from urllib.parse import unquote

        stale = site / "@file"
        if stale.exists():
            shutil.rmtree(stale)
        for url, data in self.files.items():
            rel = unquote(url)
            if not rel.startswith("@file/") or "/" in rel[len("@file/"):] or ".." in rel:
                continue
            target = site / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


_FILE_MESSAGE = (
    "This notebook runs Python in your browser, which browsers only allow for pages served over "
    "HTTP(S), not opened as a file. In this folder, run <code>python -m http.server</code> and "
    "open <a href=\"http://localhost:8000/\">http://localhost:8000/</a> (any static web server works)."
)


def _json_for_script(value: Any) -> str:
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_index(template: str, *, title: str, config: dict[str, Any]) -> str:
    """The site's ``index.html``: the bundle's page with its title, the ``#amphi-config``
    script and a ``file://`` explanation (shown by an inline script: module scripts do not
    load from ``file://`` pages)."""
    head = (
        f"<title>{html.escape(title)}</title>\n"
        f'<script type="application/json" id="amphi-config">{_json_for_script(config)}</script>\n'
    )
    page = re.sub(r"<title>.*?</title>\n?", "", template, count=1, flags=re.DOTALL)
    at = page.lower().find("</head>")
    page = page[:at] + head + page[at:]
    fallback = (
        '<div id="amphi-file-protocol" class="loading" role="alert" hidden>'
        f"{_FILE_MESSAGE}</div>\n"
        "<script>if (location.protocol === \"file:\") {"
        " var m = document.getElementById(\"amphi-file-protocol\"); m.hidden = false;"
        " var a = document.getElementById(\"app\"); if (a) a.replaceChildren(m); }</script>\n"
    )
    at = page.lower().rfind("</body>")
    return page[:at] + fallback + page[at:]


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
) -> ExportResult:
    """Export a notebook as a self-contained static site that runs it in the browser.

    Args:
        notebook: a percent-format ``.py`` or an ``.ipynb``.
        out: the site directory (created; files of an earlier export are replaced).
        mode: ``"run"`` (an app: outputs only) or ``"edit"`` (the editor; saving is not
            possible in a browser, the page offers a download of the ``.py`` instead).
        include_outputs: run the notebook now (kernel subprocess) and ship its outputs, shown
            before Python is ready in the browser.
        requirements: extra PEP 508 requirements to ship (with their dependencies).
        index_urls: package indexes micropip may use in the browser after the site's own
            ``simple/`` (PyPI-style simple or JSON API URLs, e.g. ``https://pypi.org/simple``).
        detect_imports: also ship the PyPI projects of the third-party modules the cells
            import (those without a wheel for Pyodide are reported in
            :attr:`ExportResult.skipped`).
        timeout: seconds allowed for the run of ``include_outputs``.
        python: interpreter for that run (default: this one).
        progress: ``progress(message, fraction)`` callback.

    Returns:
        An :class:`ExportResult`.

    Raises:
        ExportError: unreadable notebook, unbuilt bundle, unresolvable declared requirement,
            or a failure writing the runtime.
        TimeoutError: the ``include_outputs`` run took longer than ``timeout``.
    """
    from lifecycle.notebook import NotebookFormatError, read_notebook

    if mode not in ("run", "edit"):
        raise ExportError(f"mode must be 'run' or 'edit', not {mode!r}")
    notebook = Path(notebook)
    try:
        nb = read_notebook(notebook)
    except (NotebookFormatError, OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read {notebook}: {exc}") from None
    out = Path(out)
    _check_bundle(BUNDLE_DIR)
    declared, imported = notebook_requirements(nb)
    wanted = [*requirements, *declared]
    skipped: dict[str, str] = {}
    if detect_imports and imported:
        layout = _build.default_layout()
        runtime = _build.runtime_info(_build.ensure_npm(layout, quiet=True))
        named = {_requirement_name(r) for r in wanted}
        detected = {n: project_for_import(n) for n in imported}
        detected = {n: p for n, p in detected.items() if _build._normalize(p) not in named}
        try:  # all at once first: cached, so a repeated export needs no network
            resolve_requirements([*wanted, *detected.values()], runtime, layout)
            wanted += list(dict.fromkeys(detected.values()))
        except ExportError:
            for index, (name, project) in enumerate(detected.items()):
                _report(progress, f"looking up {project} on PyPI (imported as {name})", 0.05 * index / len(detected))
                ok, why = _resolvable(project, runtime)
                if ok and project not in wanted:
                    wanted.append(project)
                elif not ok:
                    skipped[name] = f"no wheel of {project!r} for Pyodide ({runtime.wheel_platforms[0]} or pure Python): {why}"

    def runtime_progress(message: str, fraction: float | None) -> None:
        share = 0.6 if include_outputs else 0.9
        _report(progress, message, None if fraction is None else 0.05 + share * fraction)

    assets = write_runtime(out, requirements=wanted, progress=runtime_progress)
    failed: list[str] = []
    outputs_url: str | None = None
    if include_outputs:
        from subprocess_host.client import KernelStartError
        from subprocess_host.headless import run_in_subprocess

        _report(progress, "running the notebook for its outputs", 0.7)
        files = _VirtualFileCapture()
        try:
            result = run_in_subprocess(
                nb, cwd=str(notebook.resolve().parent), python=python, timeout=timeout, on_notification=files
            )
        except KernelStartError as exc:
            raise ExportError(f"cannot run the notebook for its outputs: {exc}") from None
        failed = list(result.failed_cells)
        (out / "outputs.msgpack").write_bytes(_outputs_frames(result.notebook))
        outputs_url = "outputs.msgpack"
        files.write(out)
    else:
        for stale in (out / "outputs.msgpack", out / "@file"):
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
    _report(progress, "writing index.html", 0.95)
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
    config = {
        "transport": "worker",
        "worker": assets.worker,
        "serviceWorker": assets.service_worker,
        "mode": mode,
        "path": source_name,
        "workerOptions": worker_options,
    }
    template = (BUNDLE_DIR / "index.html").read_text(encoding="utf-8")
    index = out / "index.html"
    index.write_text(render_index(template, title=notebook.stem, config=config), encoding="utf-8")
    (out / ".nojekyll").write_text("")
    _report(progress, f"exported to {out}", 1.0)
    return ExportResult(
        directory=out,
        index=index,
        assets=assets,
        requirements=list(wanted),
        skipped=skipped,
        failed_cells=failed,
    )
