"""How the server creates and stops kernels.

Edit mode: one :class:`~subprocess_host.client.KernelClient` (a kernel subprocess: fd-level
console capture, shared-memory virtual files, the kernel's module as ``__main__``) per open
notebook, in the notebook's directory.  Run mode: one
:class:`~subprocess_host.thread_kernel.ThreadKernel` (thread-local console proxies,
in-memory virtual files) per WebSocket connection.

Both classes share one shape (:class:`KernelHandle`), so sessions treat them alike; only
stopping differs (:func:`stop_kernel`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from lifecycle import protocol
from lifecycle.kernel_lifecycle import KernelArgs
from subprocess_host.client import KernelClient, KernelInfo, ZmqTransport
from subprocess_host.thread_kernel import ThreadKernel

log = logging.getLogger("amphikernel.server")

INTERRUPT_EVERY = 1.0
"""Seconds between interrupts while a thread kernel's running cell ignores them."""


class KernelHandle(Protocol):
    """What a session needs from a kernel (implemented by KernelClient and ThreadKernel)."""

    async def start(self) -> None: ...

    async def wait_ready(self, timeout: float = ...) -> KernelInfo: ...

    def on_notification(self, callback: Callable[[Any, bytes], None]) -> Callable[[], None]: ...

    async def send(self, command: Any) -> None: ...

    async def send_frame(self, frame: bytes) -> None: ...

    async def shutdown(self, timeout: float = ...) -> int | None: ...

    def poll(self) -> int | None: ...


class FairZmqTransport(ZmqTransport):
    """:class:`ZmqTransport` that lets the event loop run between received frames.

    pyzmq hands out a frame that has already arrived without suspending, so a kernel
    flooding its stream (a loop displaying 10 MB outputs) would keep the client's receive
    loop running and starve every other task of the server (other sessions, WebSocket
    writers, the death watcher).  Yielding once per frame keeps the server fair.
    """

    async def recv(self) -> bytes:
        frame = await super().recv()
        await asyncio.sleep(0)
        return frame


def edit_kernel(notebook: Path, semantics: str, python: str | None) -> KernelClient:
    """A kernel subprocess for an edit session of ``notebook`` (not started)."""
    args = KernelArgs(
        mode="edit",
        semantics=semantics,  # type: ignore[arg-type]
        console="fd",
        virtual_files="shared_memory",
        install_main=True,
    )
    return KernelClient(args, python=python, cwd=str(notebook.parent), transport_factory=FairZmqTransport)


def run_kernel(semantics: str) -> ThreadKernel:
    """A kernel thread for one app reader (not started)."""
    return ThreadKernel(
        KernelArgs(mode="run", semantics=semantics, console="thread-local", virtual_files="in_memory")  # type: ignore[arg-type]
    )


async def stop_kernel(kernel: Any, timeout: float = 5.0) -> int | None:
    """Stop a kernel and release everything it holds; never hangs longer than about
    ``2 * timeout`` seconds.  Returns its exit status (``None``: a kernel thread that would
    not stop, left behind as a daemon thread, logged)."""
    if isinstance(kernel, ThreadKernel):
        return await stop_thread_kernel(kernel, timeout)
    return await kernel.shutdown(timeout)


async def stop_thread_kernel(kernel: ThreadKernel, timeout: float = 5.0) -> int | None:
    """Stop a kernel thread: queue ``stop`` (the control loop ends after the current run),
    interrupt the running cell once, and again every :data:`INTERRUPT_EVERY` seconds while it
    keeps running, until the thread has finished.

    Interrupts are spaced out so that one never lands in the kernel's own handling of the
    previous one.  After ``timeout`` seconds :meth:`ThreadKernel.shutdown` gets the last
    word.
    """
    if kernel.thread is None:
        return None
    kernel.control.put(protocol.Stop())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_interrupt = float("-inf")
    while kernel.poll() is None:
        inner = kernel.kernel
        now = loop.time()
        if inner is not None and inner.running_cell is not None and now - last_interrupt >= INTERRUPT_EVERY:
            kernel.interrupt()
            last_interrupt = now
        if now > deadline:
            log.warning("kernel thread %s ignores interrupts; forcing it to stop", kernel.name)
            break
        await asyncio.sleep(0.01)
    status = await kernel.shutdown(timeout)
    thread = kernel.thread
    if thread is not None and thread.is_alive():
        log.error("kernel thread %s did not stop", kernel.name)
    return status
