"""A real kernel driven through ``serve``/``listen_messages`` by either queue reader.

``asyncio``: the loop runs as a task in the test's event loop on :class:`asyncio.Queue`s
(the Pyodide host's arrangement).  ``threaded``: the loop runs in its own thread with its own
event loop on :class:`queue.Queue`s (the subprocess/thread hosts' arrangement).

Inside Pyodide (``sys.platform == "emscripten"``, see ``tests/pyodide``) threads cannot start:
only the asyncio reader runs, and :data:`needs_threads` / :data:`needs_subprocess` skip the
tests that need them.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any

import pytest

from lifecycle import protocol
from lifecycle.kernel import Kernel
from lifecycle.kernel_lifecycle import (
    KernelArgs,
    KernelRuntime,
    asyncio_queue_reader,
    serve,
    submit_command,
    submit_frame,
    threaded_queue_reader,
)

IN_PYODIDE = sys.platform == "emscripten"
READERS = ("asyncio",) if IN_PYODIDE else ("asyncio", "threaded")
"""Queue readers the ``harness`` fixture runs on (Pyodide has no threads: asyncio only)."""
OTHER_READER = READERS[-1]
"""The threaded reader where threads exist (the asyncio one in Pyodide)."""

needs_threads = pytest.mark.skipif(IN_PYODIDE, reason="needs threads (Pyodide cannot start threads)")
needs_subprocess = pytest.mark.skipif(IN_PYODIDE, reason="needs subprocesses (Pyodide cannot spawn processes)")


class KernelHarness:
    """Start a kernel, send it commands, collect its notifications."""

    def __init__(self, reader: str, args: KernelArgs | None = None) -> None:
        self.reader = reader
        self.args = args or KernelArgs()
        self.notifications: list[Any] = []
        self._lock = threading.Lock()
        self.kernel: Kernel | None = None
        self.runtime: KernelRuntime | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def emit(self, notification: Any) -> None:
        # Round-trip through the codec, as every real channel does.
        frame = protocol.encode(notification)
        with self._lock:
            self.notifications.append(protocol.decode_notification(frame))

    def _on_ready(self, kernel: Kernel, runtime: KernelRuntime) -> None:
        self.kernel, self.runtime = kernel, runtime

    async def start(self) -> KernelHarness:
        if self.reader == "asyncio":
            self.control: Any = asyncio.Queue()
            self.ui: Any = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._serve(asyncio_queue_reader))
        else:
            self.control, self.ui = queue.Queue(), queue.Queue()

            def main() -> None:
                asyncio.run(self._serve(threaded_queue_reader))

            self._thread = threading.Thread(target=main, name="kernel-under-test", daemon=True)
            self._thread.start()
        await self.wait_for(lambda n: isinstance(n, protocol.KernelReady))
        return self

    async def _serve(self, reader: Callable[[Any], Any]) -> None:
        try:
            await serve(self.args, self.emit, self.control, self.ui, reader, on_ready=self._on_ready)
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self.finished.set()

    def send(self, command: Any) -> None:
        """Route a command as a host does (through ``runtime.router`` once ready)."""
        if self.runtime is not None and self.runtime.router is not None:
            self.runtime.router.submit(command)
        else:
            submit_command(self.control, self.ui, command)

    def send_frame(self, frame: bytes) -> None:
        if self.runtime is not None and self.runtime.router is not None:
            self.runtime.router.submit_frame(frame)
        else:
            submit_frame(self.control, self.ui, frame)

    def answer_in_thread(self, text: str, *, count: int = 1, since: int = 0) -> threading.Thread:
        """Answer the next ``count`` input requests from another thread (the kernel's
        thread is blocked inside ``input()``, as the page's would be)."""

        def run() -> None:
            answered: set[str] = set()
            deadline = time.monotonic() + 20
            while len(answered) < count and time.monotonic() < deadline:
                for n in self.since(since):
                    if isinstance(n, protocol.InputRequest) and n.request_id not in answered:
                        answered.add(n.request_id)
                        assert self.runtime is not None and self.runtime.router is not None
                        self.runtime.router.submit(protocol.InputReply(request_id=n.request_id, text=text))
                time.sleep(0.002)

        thread = threading.Thread(target=run, name="frontend-answering-input", daemon=True)
        thread.start()
        return thread

    def mark(self) -> int:
        with self._lock:
            return len(self.notifications)

    def since(self, mark: int) -> list[Any]:
        with self._lock:
            return self.notifications[mark:]

    async def wait_for(self, predicate: Callable[[Any], bool], since: int = 0, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            for n in self.since(since):
                if predicate(n):
                    return n
            if time.monotonic() > deadline:
                raise TimeoutError(f"no matching notification; got {self.since(since)!r}")
            if self.finished.is_set() and self.error is not None:
                raise RuntimeError("kernel loop died") from self.error
            await asyncio.sleep(0.001)

    async def request(self, command: Any, timeout: float = 10) -> list[Any]:
        """Send a command and return its notifications up to and including completed-run."""
        mark = self.mark()
        self.send(command)
        await self.wait_for(lambda n: isinstance(n, protocol.CompletedRun), mark, timeout)
        return self.since(mark)

    async def execute(self, cells: dict[str, str], order: list[str] | None = None) -> list[Any]:
        return await self.request(
            protocol.ExecuteCells(cell_ids=list(cells), codes=list(cells.values()), order=order)
        )

    async def stop(self, timeout: float = 10) -> None:
        self.send(protocol.Stop())
        deadline = time.monotonic() + timeout
        while not self.finished.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError("kernel loop did not stop")
            await asyncio.sleep(0.001)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._task is not None:
            await self._task


def outputs(notes: list[Any], cell_id: str) -> list[str]:
    """text/plain of a cell's outputs, in order."""
    return [n.data.get("text/plain", "") for n in notes if isinstance(n, protocol.CellOutput) and n.cell_id == cell_id]


def errors(notes: list[Any], cell_id: str | None = None) -> list[protocol.CellError]:
    return [n for n in notes if isinstance(n, protocol.CellError) and (cell_id is None or n.cell_id == cell_id)]


def statuses(notes: list[Any], cell_id: str) -> list[str]:
    return [n.status for n in notes if isinstance(n, protocol.CellStatus) and n.cell_id == cell_id]


def console(notes: list[Any], cell_id: str, stream: str = "stdout") -> str:
    return "".join(n.text for n in notes if isinstance(n, protocol.CellConsole) and n.cell_id == cell_id and n.stream == stream)


async def run_in_thread_kernels(
    cell: str, sync_module: str, sessions: tuple[str, ...] = ("alpha", "beta"), timeout: float = 90
) -> dict[str, list[Any]]:
    """Run one cell at the same time in run-mode kernel threads of this process (one
    :class:`~subprocess_host.thread_kernel.ThreadKernel` per session) and collect what each sent.

    Args:
        cell: the cell's code; ``SESSION = "<session name>"`` is put before it.  It may
            ``import <sync_module>`` and call ``<sync_module>.barrier.wait()`` to step in
            lockstep with the other sessions (a :class:`threading.Barrier` for all of them).
        sync_module: the name of that throw-away module (removed afterwards).
        sessions: the session names.
        timeout: seconds allowed for every run to complete.

    Returns:
        session name -> the notifications its kernel sent, in order.

    Raises:
        AssertionError: the runs did not all complete within ``timeout``.
    """
    from subprocess_host.thread_kernel import ThreadKernel

    sync = types.ModuleType(sync_module)
    sync.barrier = threading.Barrier(len(sessions), timeout=60)  # type: ignore[attr-defined]
    sys.modules[sync_module] = sync
    kernels = {name: ThreadKernel() for name in sessions}
    notes: dict[str, list[Any]] = {name: [] for name in sessions}
    try:
        for name, kernel in kernels.items():
            kernel.on_notification(lambda note, frame, name=name: notes[name].append(note))
            await kernel.start()
            await kernel.wait_ready(30)
        for name, kernel in kernels.items():
            await kernel.send(protocol.ExecuteCells(cell_ids=["c"], codes=[f"SESSION = {name!r}\n" + cell]))
        deadline = time.monotonic() + timeout
        while not all(any(isinstance(n, protocol.CompletedRun) for n in ns) for ns in notes.values()):
            assert time.monotonic() < deadline, "the runs did not all complete"
            await asyncio.sleep(0.01)
    finally:
        for kernel in kernels.values():
            await kernel.shutdown()
        sys.modules.pop(sync_module, None)
    return notes

