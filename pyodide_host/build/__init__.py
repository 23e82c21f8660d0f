"""The Pyodide dist builder (CPython only; in the amphikernel wheel, for the export's pins and
lock writer, but not in the Pyodide wheel): assembles the *dist
directory*, i.e. the npm ``pyodide`` runtime, the wheels it loads, and a ``pyodide-lock.json``
listing exactly those wheels; one module per step (:mod:`~pyodide_host.build.runtime`,
:mod:`~pyodide_host.build.wheels`, :mod:`~pyodide_host.build.our_wheel`,
:mod:`~pyodide_host.build.lock`, :mod:`~pyodide_host.build.dist` with :func:`ensure_dist`) over
:mod:`~pyodide_host.build.common` (paths, :class:`BuildError`, file helpers), the command in
:mod:`~pyodide_host.build.cli`, and :mod:`~pyodide_host.build.node_harness`, which drives the
Node harness from Python.  It may import the standard library, ``packaging`` and
:mod:`lifecycle`, and runs ``npm``, ``pip`` and ``node`` as subprocesses; never
``subprocess_host``, ``js`` or ``pyodide`` (:mod:`~pyodide_host.build.compile_in_pyodide` also
runs inside Pyodide under Node, with the standard library only).

::

    python -m pyodide_host.build            # build/pyodide/dist        (runtime)
    python -m pyodide_host.build --tests    # build/pyodide/dist-tests  (runtime + pytest & co)
    python -m pyodide_host.build --all      # both
    python -m pyodide_host.build --prebuilt # also copy our wheel to pyodide_host/prebuilt/ (package data)

Steps, each cached (re-running does nothing when everything is up to date):

1. ``npm ci`` of ``pyodide_host/npm/`` (``pyodide@314.0.7``, lock committed) into
   ``build/pyodide/npm/`` — nothing is fetched from a CDN, only the npm registry.
2. ``pip download`` of the wheels from PyPI for Pyodide's platform
   (``cp314`` / ``pyemscripten_2026_0_wasm32``; pure wheels match too) into
   ``build/pyodide/wheels/``.  Versions come from ``requirements-dev.txt`` (micropip is
   pinned here), so CPython and Pyodide test with the same releases; msgspec and micropip are
   also pinned by sha256 (:mod:`~pyodide_host.build.pins`, which the export's downloader uses).
3. Our own pure wheel, ``amphikernel-<version>-py3-none-any.whl``: the packages that run in
   Pyodide (``lifecycle`` and ``pyodide_host`` without this build tool), depending on msgspec
   only.  Written directly (no build backend), so it is byte-for-byte reproducible, then given
   bytecode compiled *inside Pyodide* under Node (``pyodide_host/node/compile_wheel.mjs``):
   Pyodide never writes bytecode, so without it every start compiles every module.
4. The dist directory: the runtime files of the npm package, the wheels, and a
   ``pyodide-lock.json`` whose ``packages`` are exactly the wheels present (a package the lock
   names but the directory lacks would make Pyodide fall back to the CDN or 404).  Wheels are
   checked against the runtime's interpreter and platform ourselves: pyodide-lock's own check
   rejects the ``pyemscripten_<abi>_<arch>`` tag.

Errors are reported as one line (``pyodide_host.build: error: ...``) with exit status 1.
"""

from __future__ import annotations

import shutil  # noqa: F401  (``build.shutil.which`` is what the tests patch)

from pyodide_host.build.cli import main
from pyodide_host.build.common import (
    BUILD_VERSION,
    COMPILE_RUNNER,
    COMPILE_SCRIPT,
    REPO,
    BuildError,
    Layout,
    default_layout,
)
from pyodide_host.build.dist import RUNTIME_FILES, assemble_dist, ensure_dist, write_runtime_dir
from pyodide_host.build.lock import lock_entries, lock_entry
from pyodide_host.build.our_wheel import (
    OUR_EXCLUDED,
    OUR_NAME,
    OUR_PACKAGES,
    build_our_wheel,
    our_sources,
)
from pyodide_host.build.runtime import RuntimeInfo, ensure_npm, runtime_info
from pyodide_host.build.wheels import (
    PINNED_HERE,
    RUNTIME_WHEELS,
    TEST_WHEELS,
    check_compatible,
    ensure_wheels,
    pinned_versions,
)

__all__ = [
    "BUILD_VERSION",
    "COMPILE_RUNNER",
    "COMPILE_SCRIPT",
    "OUR_EXCLUDED",
    "OUR_NAME",
    "OUR_PACKAGES",
    "PINNED_HERE",
    "REPO",
    "RUNTIME_FILES",
    "RUNTIME_WHEELS",
    "TEST_WHEELS",
    "BuildError",
    "Layout",
    "RuntimeInfo",
    "assemble_dist",
    "build_our_wheel",
    "check_compatible",
    "default_layout",
    "ensure_dist",
    "ensure_npm",
    "ensure_wheels",
    "lock_entries",
    "lock_entry",
    "main",
    "our_sources",
    "pinned_versions",
    "runtime_info",
    "write_runtime_dir",
]
