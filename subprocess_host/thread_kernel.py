"""A kernel in a thread of this process (run mode: one per connected reader).

Same shape as :class:`subprocess_host.client.KernelClient` (``start``, ``wait_ready``,
``send``, ``on_notification``, ``interrupt``, ``shutdown``, ``restart``, ``poll``) so the server
treats both alike.  The kernel thread runs the lifecycle core reading its commands from a
:class:`~subprocess_host.loop_queue.LoopQueue` (awaited on the thread's own event loop),
thread-local console proxies and in-memory virtual files; an interrupt is an asynchronous
``KeyboardInterrupt`` raised in that thread.  Notifications are handed to the owning event
loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from lifecycle import protocol
from lifecycle.kernel import Kernel
from lifecycle.kernel_lifecycle import KernelArgs, KernelRuntime, serve
from subprocess_host.client import KernelInfo, NotificationCallback
from subprocess_host.loop_queue import LoopQueue, loop_queue_reader

log = logging.getLogger("amphikernel.thread_kernel")
_ids = itertools.count(1)


def raise_in_thread(thread_id: int, exc_type: type[BaseException]) -> bool:
    """Schedule ``exc_type`` to be raised in the thread with ident ``thread_id`` at its next
    bytecode (CPython's ``PyThreadState_SetAsyncExc``).  Returns whether a thread was found."""
    count = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))
    if count > 1:  # pragma: no cover - would mean two threads share an id
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
        return False
    return count == 1


class ThreadKernel:
    """A kernel running in its own thread of this process.

    Args:
        args: kernel arguments (default: run mode, thread-local console proxies, in-memory
            virtual files).
    """

    def __init__(self, args: KernelArgs | None = None) -> None:
        self.args = args or KernelArgs(mode="run", console="thread-local", virtual_files="in_memory")
        self.name = f"amphi-kernel-{next(_ids)}"
        self._callbacks: list[NotificationCallback] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready: asyncio.Future[KernelInfo] | None = None
        self.kernel: Kernel | None = None
        self.runtime: KernelRuntime | None = None
        # Both unbounded FIFOs like the queue.Queue() pair they replace (no back-pressure was
        # ever applied here).  The control queue is awaited on the kernel thread's own loop
        # (subprocess_host.loop_queue: no all_tasks() walk per command); the UI queue is only
        # drained without waiting, so a SimpleQueue (put/get in C) is enough.
        self.control: LoopQueue[Any] = LoopQueue()
        self.ui: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.info: KernelInfo | None = None
        self.dead = False
        self._finished = threading.Event()
        self._returncode: int | None = None
        self._outbox: collections.deque[tuple[Any, bytes]] = collections.deque()
        self._drain_scheduled = False

    # ------------------------------------------------------------------- start
    async def start(self) -> None:
        """Start the kernel thread (returns at once; see :meth:`wait_ready`)."""
        self._loop = asyncio.get_running_loop()
        self._ready = self._loop.create_future()
        self.control, self.ui = LoopQueue(), queue.SimpleQueue()
        self._finished.clear()
        self._returncode = None
        self.dead = False
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()

    def _emit(self, note: Any) -> None:
        # Notifications queue up; the event loop is woken once per batch (one self-pipe
        # write instead of one per notification: a run sends ~6), and drains them in order.
        frame = protocol.encode(note)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        self._outbox.append((note, frame))
        if not self._drain_scheduled:
            self._drain_scheduled = True
            with contextlib.suppress(RuntimeError):  # loop closed meanwhile
                loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False  # before draining: a note added meanwhile schedules again
        outbox = self._outbox
        while outbox:
            note, frame = outbox.popleft()
            self._dispatch(note, frame)

    def _dispatch(self, note: Any, frame: bytes) -> None:
        if isinstance(note, protocol.KernelReady) and self._ready is not None and not self._ready.done():
            self.info = KernelInfo(note.protocol, note.pid, note.python, list(note.capabilities))
            self._ready.set_result(self.info)
        for callback in list(self._callbacks):
            try:
                callback(note, frame)
            except Exception:
                log.exception("notification callback failed")

    def _on_ready(self, kernel: Kernel, runtime: KernelRuntime) -> None:
        self.kernel, self.runtime = kernel, runtime
        assert runtime.router is not None
        runtime.router.interrupt = self._interrupt_now

    def _main(self) -> None:
        try:
            asyncio.run(
                serve(self.args, self._emit, self.control, self.ui, loop_queue_reader,
                      capabilities=["interrupt", "stdin", "virtual-files"], on_ready=self._on_ready)
            )
            self._returncode = 0
        except BaseException as exc:  # the thread must always finish cleanly
            self._returncode = 1
            try:
                log.error("kernel thread %s failed: %r", self.name, exc)
                note = protocol.KernelDied(returncode=1, reason=repr(exc))
                self._emit(note)  # after every notification already queued
            except BaseException:
                pass
        finally:
            self._finished.set()

    async def wait_ready(self, timeout: float = 10.0) -> KernelInfo:
        """Wait until the kernel thread can run cells.

        Raises:
            TimeoutError: not ready in ``timeout`` seconds.
        """
        assert self._ready is not None, "start() first"
        return await asyncio.wait_for(asyncio.shield(self._ready), timeout)

    # ------------------------------------------------------------------ public
    def on_notification(self, callback: NotificationCallback) -> Callable[[], None]:
        """Call ``callback(note, frame)`` on the owning loop for every notification."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    async def send(self, command: Any) -> None:
        """Route a command to the kernel (never blocks)."""
        if self.runtime is None or self.runtime.router is None or self._finished.is_set():
            raise RuntimeError("the kernel is not running")
        self.runtime.router.submit(command)

    takes_decoded = True
    """The server may hand :meth:`send` the command it already decoded from a frame instead of
    the frame (:meth:`send_frame` would decode it a second time, in this same process)."""

    async def send_frame(self, frame: bytes) -> None:
        """Route an encoded command frame (undecodable frames are reported by the kernel)."""
        if self.runtime is None or self.runtime.router is None or self._finished.is_set():
            raise RuntimeError("the kernel is not running")
        self.runtime.router.submit_frame(frame)

    def _interrupt_now(self) -> None:
        thread = self._thread
        if thread is not None and thread.ident is not None and self.kernel is not None and self.kernel.running_cell:
            raise_in_thread(thread.ident, KeyboardInterrupt)

    def interrupt(self) -> None:
        """Interrupt the running cell (no-op while idle)."""
        if self.runtime is not None and self.runtime.router is not None:
            self.runtime.router.submit(protocol.Interrupt())

    def poll(self) -> int | None:
        """``None`` while the kernel thread runs, else its exit status (0: stopped cleanly)."""
        return self._returncode if self._finished.is_set() else None

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    async def shutdown(self, timeout: float = 5.0) -> int | None:
        """Stop the kernel thread: ``stop``, then interrupts until it ends (a cell that
        ignores interrupts cannot be killed in-thread: after ``timeout`` the thread is left
        as a daemon and ``None`` is returned)."""
        if self._thread is None:
            return None
        self.control.put(protocol.Stop())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        next_interrupt = loop.time()
        while not self._finished.is_set():
            now = loop.time()
            # Interrupt a running cell so the stop is reached; at most once a second, so an
            # interrupt never lands in the kernel's own error handling twice in a row.
            if now >= next_interrupt and self.kernel is not None and self.kernel.running_cell is not None \
                    and self._thread.ident is not None:
                raise_in_thread(self._thread.ident, KeyboardInterrupt)
                next_interrupt = now + 1.0
            if now > deadline:
                log.error("kernel thread %s did not stop in %.1f s", self.name, timeout)
                return None
            await asyncio.sleep(0.005)
        self._thread.join(timeout)
        return self._returncode

    async def restart(self, timeout: float = 5.0) -> KernelInfo:
        """Stop this kernel and start a fresh one; callbacks stay."""
        await self.shutdown(timeout)
        await self.start()
        return await self.wait_ready(timeout)
