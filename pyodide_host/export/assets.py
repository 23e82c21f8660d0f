"""The runtime a page needs to run a kernel in a Web Worker (:func:`write_runtime`): the
Pyodide runtime with its lock and wheels, a local PEP 503 index, the web bundle with the
worker, and the service workers; described by :class:`RuntimeAssets`.

CPython only; imports the standard library and :mod:`pyodide_host.build`.  The web bundle is
found by path (:data:`BUNDLE_DIR`), never by importing the server.
"""

from __future__ import annotations

import html
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyodide_host.build.common import REPO, BuildError, link_or_copy
from pyodide_host.build.dist import write_runtime_dir
from pyodide_host.build.lock import lock_entries
from pyodide_host.build.wheels import wheel_parts
from pyodide_host.export.common import ExportError, report, requirement_name
from pyodide_host.export.runtime import Runtime, cache_layout, locate_runtime
from pyodide_host.export.wheels import precompile, resolve_requirements

__all__ = ["BUNDLE_DIR", "BUNDLE_REQUIRED", "RuntimeAssets", "check_bundle", "write_runtime"]

BUNDLE_DIR = REPO / "subprocess_host" / "static" / "app"
"""Where ``npm run build`` (web/) writes the page bundle, the worker and the service worker."""

BUNDLE_REQUIRED = ("app.js", "app.css", "worker.js", "sw.js", "coi-serviceworker.js")


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


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    link_or_copy(source, target)


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


def check_bundle(bundle: Path) -> None:
    """Raise :class:`ExportError` unless ``bundle`` holds the built web bundle."""
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
    runtime: Runtime | None = None,
) -> RuntimeAssets:
    """Write into ``dest`` everything a page needs to run a kernel in a Web Worker.

    ``dest`` gets the page bundle (``app.js``, ``app.css``, ``chunks/``), the kernel worker
    (``worker.js``), the service worker (``sw.js`` + ``coi-serviceworker.js``), the Pyodide
    runtime with its lock and wheels (``pyodide/``) and a PEP 503 index of the same wheels
    (``simple/``).  Files of an earlier call are replaced; other files in ``dest`` are left
    alone.  A page loads ``bundle_js``/``bundle_css`` and creates the worker from ``worker``;
    with its defaults the worker finds the runtime at ``./pyodide/`` and the index at
    ``./simple/`` next to itself (see ``web/src/transport/worker-contract.ts`` for its
    options).  The runtime and its wheels come from :func:`~pyodide_host.export.runtime.locate_runtime`
    (a local folder, the user cache, or a verified download from npm and PyPI); extra
    requirements are resolved with ``pip`` and cached too, later calls with the same
    requirements need no network.  ``node``, when installed, precompiles the extra wheels.

    Args:
        dest: the directory to write (created if missing).
        requirements: extra PEP 508 requirements (pure-Python wheels, or wheels built for
            this Pyodide) to resolve from PyPI with their dependencies, put in the lock and the
            local index, so an ``import`` of them in a cell installs from the site itself.
        progress: ``progress(message, fraction)`` called as the work advances (``fraction``
            0..1 for the whole call, ``None`` when unknown).
        runtime: the runtime to copy (default: :func:`~pyodide_host.export.runtime.locate_runtime`
            with its defaults, ``$AMPHI_PYODIDE_DIR`` included).

    Returns:
        The :class:`RuntimeAssets` (URLs relative to ``dest``).

    Raises:
        ExportError: the bundle is not built, the runtime cannot be had, or a wheel cannot be
            resolved, downloaded or compiled (one-line message).
    """
    dest = Path(dest)
    check_bundle(BUNDLE_DIR)
    if runtime is None:
        report(progress, "Pyodide runtime and wheels", 0.0)
        runtime = locate_runtime()
    layout = cache_layout()
    package, info = runtime.package, runtime.info
    wheels = list(runtime.wheels)
    provided = {wheel_parts(w.name)[0] for w in wheels}
    extra: list[Path] = []
    if requirements:
        report(progress, f"resolving {', '.join(requirements)} from PyPI", 0.35)
        extra = resolve_requirements(requirements, info, layout, exclude=provided)
        report(progress, f"precompiling {len(extra)} wheel(s) in Pyodide", 0.55)
        extra = precompile(extra, package, layout)
    wheels += extra
    report(progress, "writing the Pyodide runtime and lock", 0.75)
    try:
        entries = lock_entries(wheels, info)
    except BuildError as exc:
        raise ExportError(str(exc)) from None
    assets = RuntimeAssets(
        packages=tuple(sorted(entries)),
        requirements=tuple(requirement_name(r) for r in requirements),
    )
    dest.mkdir(parents=True, exist_ok=True)
    pyodide_dir = dest / assets.pyodide_index
    if pyodide_dir.exists():
        shutil.rmtree(pyodide_dir)
    pyodide_dir.mkdir(parents=True)
    try:
        write_runtime_dir(pyodide_dir, package, wheels, info, entries)
    except BuildError as exc:
        raise ExportError(str(exc)) from None
    _write_simple_index(dest / assets.simple_index, entries, assets.pyodide_index)
    report(progress, "copying the web bundle and service worker", 0.9)
    if (dest / "chunks").exists():
        shutil.rmtree(dest / "chunks")
    for source in sorted(BUNDLE_DIR.rglob("*")):
        rel = source.relative_to(BUNDLE_DIR)
        if source.is_file() and rel.name not in (".gitignore", "index.html"):
            _copy(source, dest / rel)
    report(progress, "runtime written", 1.0)
    return assets
