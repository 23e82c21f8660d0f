"""Static sites that run notebooks in the browser (CPython side; not shipped in the Pyodide
wheel): the runtime writer (:mod:`~pyodide_host.export.assets`), the extra wheels of a site
(:mod:`~pyodide_host.export.wheels`; ``anywidget``, ``wigglystuff`` and their Pyodide
dependencies as hash-pinned files: :mod:`~pyodide_host.export.pinned`), what a notebook brings to it
(:mod:`~pyodide_host.export.notebook`), the ``index.html`` (:mod:`~pyodide_host.export.page`)
and ``amphi export html-wasm`` (:mod:`~pyodide_host.export.html_wasm`), over
:mod:`~pyodide_host.export.common`.  It may import the standard library, msgspec,
:mod:`lifecycle` and :mod:`pyodide_host.build`, and runs ``pip`` and ``node`` as subprocesses;
never ``subprocess_host`` (a run at export time is the caller's ``run_notebook``), ``js`` or
``pyodide``.

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
  at export time (``outputs.msgpack``, run by the caller's ``run_notebook``) shown before
  Python is ready.

Layout written into ``dest`` (every URL in :class:`RuntimeAssets` is relative to ``dest``)::

    app.js app.css chunks/   the page bundle (web/, built by `npm run build`)
    worker.js                the kernel's module worker (boots Pyodide, speaks the Worker transport)
    sw.js coi-serviceworker.js
    pyodide/                 pyodide.mjs, pyodide.asm.*, python_stdlib.zip, pyodide-lock.json, *.whl
    simple/                  PEP 503 index: simple/<project>/index.html -> ../../pyodide/<wheel>

Nothing is fetched from a CDN, at build time or in the browser.  The runtime (npm ``pyodide``
tarball, msgspec and micropip wheels) comes from a local folder (``--pyodide-dir``), the user
cache or a download checked against its pinned hash (:mod:`~pyodide_host.export.runtime`,
:mod:`~pyodide_host.export.fetch`); our own Pyodide wheel ships in the amphikernel wheel, so
exporting needs no Node.js.  Extra requirements come from PyPI (``pip download``), cached in
the user cache too.

Errors are :class:`ExportError` (a :class:`~pyodide_host.build.BuildError`) with a one-line
message.
"""

from __future__ import annotations

from pyodide_host.export.assets import (
    BUNDLE_DIR,
    BUNDLE_REQUIRED,
    RuntimeAssets,
    check_bundle,
    write_runtime,
)
from pyodide_host.export.common import ExportError, Progress
from pyodide_host.export.html_wasm import ExportResult, RunNotebook, export_html_wasm
from pyodide_host.export.notebook import IN_RUNTIME, OURS, notebook_requirements
from pyodide_host.export.page import render_index
from pyodide_host.export.runtime import Runtime, locate_runtime
from pyodide_host.export.wheels import resolve_requirements
from pyodide_host.imports import project_for_import

__all__ = [
    "BUNDLE_DIR",
    "BUNDLE_REQUIRED",
    "IN_RUNTIME",
    "OURS",
    "ExportError",
    "ExportResult",
    "Progress",
    "RunNotebook",
    "Runtime",
    "RuntimeAssets",
    "check_bundle",
    "export_html_wasm",
    "locate_runtime",
    "notebook_requirements",
    "project_for_import",
    "render_index",
    "resolve_requirements",
    "write_runtime",
]
