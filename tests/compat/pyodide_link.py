"""The Pyodide row: a kernel session in Pyodide 3.14 under Node.js
(``pyodide_host/node/harness.mjs``, driven by :class:`~pyodide_host.build.node_harness.NodeHarness`),
driven from this CPython host.

The harness hands every command frame to ``session.handle_frame`` and returns every frame the
session sends, unchanged: the two entry points the browser's Web Worker (``worker.js``) calls
on either side of ``postMessage``.  Scenario 8 additionally goes through the real Web Worker
in Chromium (:mod:`tests.compat.browser`).

``comm`` (pure Python, the venvs' copy) is mounted into Pyodide's file system for the widget
buffers of scenario 5.  A process that ends (``kill -9`` of Node in scenario 10) is reported
as ``kernel-died`` when the harness's pipe closes, as the page reports a dead worker.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any

from lifecycle import protocol
from pyodide_host.build.node_harness import NodeHarness
from tests.compat.links import Link

BIG_FRAME = 65536


class PyodideLink(Link):
    """See the module docstring.  ``comm_source``: a ``comm`` package directory to mount."""

    name = "worker"

    def __init__(self, dist: Path, comm_source: Path, scratch: Path) -> None:
        super().__init__("pyodide")
        self.dist, self.comm_source, self.scratch = dist, comm_source, scratch
        self.harness: NodeHarness | None = None
        self._forwarder: threading.Thread | None = None
        self._stop = threading.Event()

    async def start(self) -> None:
        mount = self.scratch / "pylib"
        if not (mount / "comm").is_dir():
            mount.mkdir(parents=True, exist_ok=True)
            shutil.copytree(self.comm_source, mount / "comm", ignore=shutil.ignore_patterns("__pycache__"))
        self.loop = asyncio.get_running_loop()
        self.harness = NodeHarness(self.dist, ["--mount", f"{mount}:/compat-lib"])
        harness = self.harness
        await asyncio.to_thread(harness.wait_ready, 180)
        await asyncio.to_thread(harness.wait_for, lambda n: isinstance(n, protocol.KernelReady), 0, 120)
        ready = next(n for n in harness.notifications if isinstance(n, protocol.KernelReady))
        self.kernel_version = ready.python
        await asyncio.to_thread(harness.exec, "import sys; sys.path.insert(0, '/compat-lib')")
        self._forwarder = threading.Thread(target=self._forward, name="compat-pyodide-forward", daemon=True)
        self._forwarder.start()

    def _forward(self) -> None:
        harness = self.harness
        assert harness is not None
        seen = 0
        while not self._stop.is_set():
            with harness._cond:
                while len(harness.frames) <= seen and not harness._closed and not self._stop.is_set():
                    harness._cond.wait(0.5)
                batch = list(zip(harness.notifications[seen:], harness.frames[seen:]))
                seen += len(batch)
                closed = harness._closed
            for note, frame in batch:
                self.loop.call_soon_threadsafe(self.deliver, note, frame)
            if closed and not batch:
                code = harness.proc.poll()
                if code is None:
                    code = harness.proc.wait()
                note = protocol.KernelDied(returncode=code, reason=f"the Pyodide process ended ({code})")
                self.loop.call_soon_threadsafe(self.deliver, note, protocol.encode(note))
                return

    async def send_frame(self, frame: bytes) -> None:
        harness = self.harness
        if harness is None or harness.proc.poll() is not None:
            raise RuntimeError("the kernel is not running")
        if len(frame) < BIG_FRAME:
            harness.send_frame(frame)
        else:
            await asyncio.to_thread(harness.send_frame, frame)

    def kill(self) -> None:
        if self.harness is not None:
            os.kill(self.harness.proc.pid, signal.SIGKILL)

    @property
    def decode_errors_seen(self) -> int:
        return 0  # NodeHarness decodes with decode_notification; a decode error ends its reader

    async def close(self) -> None:
        self._stop.set()
        if self.harness is not None:
            await asyncio.to_thread(self.harness.close, 15)
        if self._forwarder is not None:
            self._forwarder.join(5)


def comm_package(venv_python: Path) -> Path:
    """The ``comm`` package directory of a compat venv."""
    found = list(venv_python.parents[1].glob("lib/python3*/site-packages/comm"))
    if not found:
        raise FileNotFoundError(f"comm is not installed in {venv_python.parents[1]}")
    return found[0]


async def run_pyodide(dist: Path, comm_source: Path, scratch: Path) -> list[dict[str, Any]]:
    """Every scenario against Pyodide (see :func:`tests.compat.scenarios.run_all`)."""
    from tests.compat.scenarios import run_all

    return await run_all(PyodideLink(dist, comm_source, scratch))
