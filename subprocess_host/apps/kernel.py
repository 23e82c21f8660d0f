"""One reader's kernel: a thread inside an app process, reached over the app's shared link.

:class:`AppKernel` has the shape the server's sessions expect of a kernel
(:class:`subprocess_host.server.kernels.KernelHandle`: ``start``, ``wait_ready``, ``send``,
``send_frame``, ``on_notification``, ``shutdown``, ``poll``).  Starting one is a
``create-kernel`` management request and a thread in the app process: no new sockets.  Its
notifications arrive on the app's ``stream`` socket under its session id.

Resuming: an :class:`AppKernel` made with ``resume=True`` does not create a kernel thread but
attaches to the existing session ``session_id`` of the app process (``attach-session``, any
server instance may do it); the app sends the session's resync frames first (``kernel-ready``
among them), then its live frames.  :meth:`AppKernel.detach` leaves the kernel running for
another instance (its grace period starts in the app process).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lifecycle import protocol
from subprocess_host.apps import wire
from subprocess_host.apps.link import LinkClosed
from subprocess_host.apps.pool import AppInstance, AppPool
from subprocess_host.client import KernelInfo
from subprocess_host.server.messages import peek_type

log = logging.getLogger("amphikernel.apps")

_CHANNEL_OF = {"update-ui-element": "ui", "widget-model": "ui", "input-reply": "input", "complete": "completion"}

NotificationCallback = Callable[[Any, bytes], None]


class AppKernel:
    """A kernel thread of app ``name`` (see the module docstring).

    Args:
        pool: the server's app pool.
        name: the app's name.
        notebook: its notebook (the app process is launched for it if not running).
        python: interpreter for the app process (``None``: the server's).
        semantics: ``"script"`` or ``"strict"``.
        session_id: the session's id in the app process (default: a fresh one).
        resume: attach to the existing session ``session_id`` instead of creating one.
        key: the reader's browser key (a session is resumed only with the key it was
            created with).
    """

    def __init__(self, pool: AppPool, name: str, notebook: Path, python: str | None = None,
                 semantics: str = "script", *, session_id: str | None = None, resume: bool = False,
                 key: str = "") -> None:
        self.pool, self.name, self.notebook, self.python, self.semantics = pool, name, notebook, python, semantics
        self.session_id = session_id or secrets.token_urlsafe(12)
        self.resume = resume
        self.key = key
        self.instance: AppInstance | None = None
        self.info: KernelInfo | None = None
        self._callbacks: list[NotificationCallback] = []
        self._app_died: list[Callable[[int | None, str], None]] = []
        self._ready: asyncio.Future[KernelInfo] | None = None
        self._ended: asyncio.Future[int] | None = None
        self._returncode: int | None = None
        self._create: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ start
    async def start(self) -> None:
        """Acquire the app process (launching it if needed) and create the kernel thread.

        Raises:
            subprocess_host.apps.provisioner.AppStartError: the app process did not start.
            RuntimeError: the server is closing (a kernel the app refuses to create fails
                :meth:`wait_ready` instead).
        """
        loop = asyncio.get_running_loop()
        self._ready, self._ended = loop.create_future(), loop.create_future()
        self._returncode = None
        instance = await self.pool.acquire(self.name, self.notebook, self.python, self.semantics)
        self.instance = instance
        instance.kernels[self.session_id] = self
        instance.link.sessions[self.session_id] = self._on_frame
        # The reply is not awaited here: ``kernel-ready`` on the stream follows it anyway, so
        # a session costs one trip, not two.  A refusal fails :meth:`wait_ready`.
        self._create = loop.create_task(self._create_kernel(instance))

    async def _create_kernel(self, instance: AppInstance) -> None:
        request = (wire.AttachSession(session=self.session_id, key=self.key) if self.resume
                   else wire.CreateKernel(session=self.session_id, key=self.key))
        try:
            await instance.link.request(request)
        except Exception as exc:
            self._forget()
            what = "resumed" if self.resume else "created"
            if self._ready is not None and not self._ready.done():
                self._ready.set_exception(RuntimeError(f"app {self.name}: the kernel was not {what}: {exc}"))
                self._ready.exception()  # retrieved: wait_ready() still raises it

    def _forget(self) -> None:
        instance = self.instance
        if instance is not None:
            instance.kernels.pop(self.session_id, None)
            instance.link.sessions.pop(self.session_id, None)

    def _on_frame(self, frame: bytes) -> None:
        note = protocol.decode_notification(frame)
        if isinstance(note, protocol.KernelReady) and self._ready is not None and not self._ready.done():
            self.info = KernelInfo(note.protocol, note.pid, note.python, list(note.capabilities))
            self._ready.set_result(self.info)
        self._dispatch(note, frame)

    def _dispatch(self, note: Any, frame: bytes) -> None:
        for callback in list(self._callbacks):
            try:
                callback(note, frame)
            except Exception:
                log.exception("app %s: notification callback failed", self.name)

    async def wait_ready(self, timeout: float = 30.0) -> KernelInfo:
        """Wait for ``kernel-ready``.

        Raises:
            TimeoutError: not ready in ``timeout`` seconds.
            RuntimeError: the app refused to create it, or the app process died first.
        """
        assert self._ready is not None, "start() first"
        return await asyncio.wait_for(asyncio.shield(self._ready), timeout)

    # ------------------------------------------------------------------ events
    def ended(self, returncode: int, reason: str) -> None:
        """The app process reports the kernel thread has finished."""
        self._forget()
        self._returncode = returncode
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(returncode)
        if returncode != 0:
            note = protocol.KernelDied(returncode=returncode, reason=reason or "the kernel thread failed")
            self._dispatch(note, protocol.encode(note))

    def app_died(self, status: int | None, reason: str) -> None:
        """The whole app process ended: report ``kernel-died`` with ``reason``."""
        self._forget()
        self._returncode = status if status is not None else -1
        for future in (self._ready, self._ended):
            if future is not None and not future.done():
                future.set_exception(RuntimeError(reason))
                future.exception()  # retrieved: no "never retrieved" warning
        note = protocol.KernelDied(returncode=status, reason=reason)
        self._dispatch(note, protocol.encode(note))
        for callback in list(self._app_died):
            try:
                callback(status, reason)
            except Exception:
                log.exception("app %s: app-died callback failed", self.name)

    # ------------------------------------------------------------------ public
    def on_notification(self, callback: NotificationCallback) -> Callable[[], None]:
        """Call ``callback(note, frame)`` on the event loop for every notification."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def on_app_died(self, callback: Callable[[int | None, str], None]) -> None:
        """Call ``callback(status, reason)`` when the app process ends unexpectedly."""
        self._app_died.append(callback)

    async def send(self, command: Any) -> None:
        """Send a command (encoded here)."""
        await self.send_frame(protocol.encode(command))

    async def send_frame(self, frame: bytes) -> None:
        """Send an encoded command frame on the app's ``cmd`` socket.

        Raises:
            RuntimeError: the kernel or its app process is not running.
        """
        instance = self.instance
        if instance is None or instance.dead or self._returncode is not None:
            raise RuntimeError("the kernel is not running")
        try:
            await instance.link.send_command(self.session_id, _CHANNEL_OF.get(peek_type(frame) or "", "control"), frame)
        except LinkClosed as exc:
            raise RuntimeError(str(exc)) from None

    def interrupt(self) -> None:
        """Interrupt the running cell (sent as an ``interrupt`` command)."""
        asyncio.get_running_loop().create_task(self._send_quietly(protocol.Interrupt()))

    async def _send_quietly(self, command: Any) -> None:
        try:
            await self.send(command)
        except RuntimeError:
            pass

    def poll(self) -> int | None:
        """``None`` while the kernel thread runs, else its exit status."""
        return self._returncode

    async def detach(self) -> None:
        """Leave the kernel thread running without this instance (``detach-session``): the
        app keeps the session for its grace period, for a reader coming back through any
        instance."""
        instance = self.instance
        self._forget()
        if instance is None or instance.dead or self._returncode is not None:
            return
        try:
            await instance.link.request(wire.DetachSession(session=self.session_id), timeout=5.0)
        except (RuntimeError, TimeoutError, asyncio.TimeoutError) as exc:
            log.info("app %s: kernel %s detach: %s", self.name, self.session_id, exc)

    async def shutdown(self, timeout: float = 5.0) -> int | None:
        """Stop the kernel thread (``stop-kernel``; the app interrupts a running cell) and
        wait for its end; ``None`` if it did not end in ``timeout`` seconds."""
        instance = self.instance
        if instance is None or self._returncode is not None:
            self._forget()
            return self._returncode
        if instance.dead:
            self._forget()
            return self._returncode
        try:
            await instance.link.request(wire.StopKernel(session=self.session_id), timeout=timeout)
            assert self._ended is not None
            return await asyncio.wait_for(asyncio.shield(self._ended), timeout)
        except (RuntimeError, TimeoutError, asyncio.TimeoutError) as exc:
            log.info("app %s: kernel %s stop: %s", self.name, self.session_id, exc)
            return self._returncode
        finally:
            self._forget()
