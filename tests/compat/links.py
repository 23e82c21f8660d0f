"""The two links a CPython host drives a kernel through, behind one small asyncio interface.

* :class:`SubprocessLink`: ``launch_kernel`` in a subprocess (:class:`KernelClient`, five
  ZeroMQ channels).
* :class:`AppLink`: a kernel thread in an app process started by
  :class:`~subprocess_host.apps.provisioner.LocalProvisioner` with ``python=`` the kernel's
  interpreter, reached over the app's four multiplexed CURVE sockets
  (:class:`~subprocess_host.apps.pool.AppPool`, :class:`~subprocess_host.apps.kernel.AppKernel`).

This module runs in the *host* venv (the installed wheel), never from the source tree:
:mod:`tests.compat.driver` imports it by file location.  It imports amphikernel, msgspec and
the standard library only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lifecycle import protocol

Predicate = Callable[[Any], bool]


class Link:
    """Notifications received (``notes``: ``(note, raw frame, monotonic time)``), frames sent.

    Subclasses implement :meth:`start`, :meth:`send_frame`, :meth:`kill` and :meth:`close`.
    """

    name = "link"

    def __init__(self, kernel_python: str) -> None:
        self.kernel_python = kernel_python
        self.notes: list[tuple[Any, bytes, float]] = []
        self.changed = asyncio.Event()
        self.kernel_version = ""
        self.listeners: list[Callable[[Any, bytes], None]] = []
        self.decode_errors = 0

    def deliver(self, note: Any, frame: bytes) -> None:
        self.notes.append((note, frame, time.monotonic()))
        for listener in list(self.listeners):
            listener(note, frame)
        self.changed.set()

    def mark(self) -> int:
        return len(self.notes)

    def since(self, mark: int) -> list[Any]:
        return [n for n, _f, _t in self.notes[mark:]]

    async def wait_for(self, predicate: Predicate, since: int = 0, timeout: float = 60.0, count: int = 1) -> Any:
        """The ``count``-th notification after ``since`` matching ``predicate``.

        Raises:
            TimeoutError: not seen in ``timeout`` seconds (message lists what was seen).
        """
        deadline = time.monotonic() + timeout
        seen = 0
        index = since
        while True:
            while index < len(self.notes):
                note = self.notes[index][0]
                index += 1
                if predicate(note):
                    seen += 1
                    if seen >= count:
                        return note
            left = deadline - time.monotonic()
            if left <= 0:
                kinds = [type(n).__name__ for n in self.since(since)][-8:]
                raise TimeoutError(f"not seen in {timeout:g} s ({seen}/{count} matched; last: {kinds})")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def send(self, command: Any) -> None:
        await self.send_frame(protocol.encode(command))

    async def start(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    async def send_frame(self, frame: bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def kill(self) -> None:  # pragma: no cover - interface
        """``kill -9`` the process the kernel runs in (synchronous: callable from a callback)."""
        raise NotImplementedError

    async def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class SubprocessLink(Link):
    """``launch_kernel`` in a subprocess (see the module docstring)."""

    name = "subprocess"

    async def start(self) -> None:
        from lifecycle.kernel_lifecycle import KernelArgs
        from subprocess_host.client import KernelClient

        self.tmp = tempfile.TemporaryDirectory(prefix="amphi-compat-")
        self.client = KernelClient(
            KernelArgs(console="fd", virtual_files="shared_memory", install_main=True),
            python=self.kernel_python, cwd=self.tmp.name,
        )
        self.client.on_notification(self.deliver)
        await self.client.start()
        info = await self.client.wait_ready(120)
        self.kernel_version = info.python

    async def send_frame(self, frame: bytes) -> None:
        await self.client.send_frame(frame)

    async def send(self, command: Any) -> None:
        await self.client.send(command)  # on its own channel (control, ui, input, completion)

    def kill(self) -> None:
        pid = self.client.pid
        if pid is not None:
            os.kill(pid, signal.SIGKILL)

    @property
    def decode_errors_seen(self) -> int:
        return self.client.bad_frames.count

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown(5.0), 30)
        finally:
            self.tmp.cleanup()


class AppLink(Link):
    """A kernel thread in an app process (see the module docstring)."""

    name = "app"

    async def start(self) -> None:
        from subprocess_host.apps.kernel import AppKernel
        from subprocess_host.apps.pool import AppPool
        from subprocess_host.apps.provisioner import LocalProvisioner

        self.tmp = tempfile.TemporaryDirectory(prefix="amphi-compat-app-")
        notebook = Path(self.tmp.name) / "compat.py"
        notebook.write_text("# %%\n")
        self.pool = AppPool(provisioner_factory=LocalProvisioner, template=False, ready_timeout=120)
        self.kernel = AppKernel(self.pool, "compat", notebook, python=self.kernel_python)
        self.kernel.on_notification(self.deliver)
        await self.kernel.start()
        info = await self.kernel.wait_ready(120)
        self.kernel_version = info.python

    async def send_frame(self, frame: bytes) -> None:
        await self.kernel.send_frame(frame)

    def kill(self) -> None:
        instance = self.kernel.instance
        if instance is not None:
            os.kill(instance.pid, signal.SIGKILL)

    @property
    def decode_errors_seen(self) -> int:
        return 0  # AppKernel decodes with decode_notification, which never raises for unknown types

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.kernel.shutdown(5.0), 30)
            await asyncio.wait_for(self.pool.close(), 30)
        finally:
            self.tmp.cleanup()


LINKS: dict[str, type[Link]] = {"subprocess": SubprocessLink, "app": AppLink}
