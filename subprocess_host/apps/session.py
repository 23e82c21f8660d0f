"""Sessions of an app served from an app process: the run-mode session with shared-memory
virtual files and the "this app restarted" notice.

:class:`AppRunSession` is a :class:`~subprocess_host.server.session.RunSession` whose kernel is
an :class:`~subprocess_host.apps.kernel.AppKernel`.  Its virtual files live in the app
process's shared memory and are announced in ``virtual-file`` notifications, so the server
reads them without a round trip (:class:`~subprocess_host.server.vfiles.AnnouncedFiles`).
When the app process dies, every reader gets ``kernel-died`` (reason: "this app restarted")
and the host message :class:`AppRestarted`, then a kernel in a fresh app process, which runs
the notebook again.

:class:`AppSessionManager` is the :class:`~subprocess_host.server.registry.SessionManager`
of one app (its readers' sessions, browser keys for ``/@file/``).

Server instances are relays: a reader's session lives in the app process (its resync state
too, :mod:`subprocess_host.apps.resync`).  The page is told its session id
(:class:`ResumeSession`) and reconnects with ``?resume=<id>``; any instance then attaches to
that session (``attach-session``) and forwards the app's resync frames and live frames.  When
the reader's connection closes, the instance detaches (the app keeps the session for the
pool's grace period) instead of stopping the kernel; a session that cannot be resumed (gone,
or created with another browser key) is replaced by a fresh one, announced with a new
:class:`ResumeSession`.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

import msgspec

from lifecycle import protocol
from subprocess_host.apps.kernel import AppKernel
from subprocess_host.apps.pool import AppPool
from subprocess_host.server.config import ServerConfig
from subprocess_host.server.notebook import NotebookDocument
from subprocess_host.server.registry import SessionManager
from subprocess_host.server.session import RunSession
from subprocess_host.server.vfiles import AnnouncedFiles, FileSource

log = logging.getLogger("amphikernel.apps")

MAX_RESPAWNS = 100
"""Respawns one session attempts over its life (a notebook that kills its process at start
must not loop forever)."""


class AppRestarted(msgspec.Struct, tag_field="type", tag="app-restarted", kw_only=True):
    """Server -> page (host message): the app's process ended and was started again; the
    page's outputs are being recomputed.  ``message`` is for the reader, ``app`` names it."""

    message: str
    app: str = ""


class ResumeSession(msgspec.Struct, tag_field="type", tag="resume-session", kw_only=True):
    """Server -> page (host message): the id of the reader's session in the app process; the
    page reconnects with ``?resume=<id>`` to get the same session back, through any server
    instance."""

    id: str


_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def is_session_id(value: str | None) -> bool:
    """Whether ``value`` has the form of a session id (16-64 URL-safe characters)."""
    return value is not None and _SESSION_ID.fullmatch(value) is not None


class AppRunSession(RunSession):
    """One reader of an app served by an app process (see the module docstring).

    Args:
        make_kernel: ``make_kernel(session_id, resume)`` -> an unstarted
            :class:`~subprocess_host.apps.kernel.AppKernel`.
        resume: the app-process session id to resume (``None``: a new session).
        detach_on_close: :meth:`close` detaches (the app keeps the session for another
            instance) instead of stopping the kernel.
    """

    def __init__(self, document: NotebookDocument, make_kernel: Any, *, app: str, ready_timeout: float = 60.0,
                 resume: str | None = None, detach_on_close: bool = False) -> None:
        super().__init__(document, self._new_kernel, ready_timeout=ready_timeout)
        self.app = app
        self._make_kernel = make_kernel
        self.files = AnnouncedFiles()
        self.respawns = 0
        self.app_session = resume or secrets.token_urlsafe(16)
        self.resuming = resume is not None
        self.resumed = False
        self.detach_on_close = detach_on_close

    def _new_kernel(self) -> AppKernel:
        kernel: AppKernel = self._make_kernel(self.app_session, self.resuming)
        kernel.on_app_died(self._on_app_died)
        return kernel

    def _announce(self) -> bytes:
        return msgspec.msgpack.encode(ResumeSession(id=self.app_session))

    def attach(self, tab: Any) -> None:
        super().attach(tab)
        tab.send(self._announce())

    async def _on_kernel_ready(self, kernel: Any) -> None:
        if self.resuming:  # attached: the app sent the session's state; nothing re-runs
            self.resumed = True
            log.info("app %s: session %s resumed", self.app, self.app_session)
            return
        await super()._on_kernel_ready(kernel)

    def _start_failed(self, exc: BaseException) -> None:
        if self.resuming and not self.closing:
            log.info("app %s: session %s cannot be resumed (%s); starting a new one", self.app, self.app_session, exc)
            self.resuming = False
            self.app_session = secrets.token_urlsafe(16)
            self.broadcast(self._announce())
            self._start_task = None
            self._ready.clear()
            self.start()
            return
        super()._start_failed(exc)

    async def release(self) -> None:
        """Close this instance's side of the session and detach the kernel (it keeps
        running in the app process for its grace period).  Idempotent."""
        if self.closing:
            await self._closed.wait()
            return
        self.closing = True
        self._ready.set()
        try:
            for task in [*self._tasks, *([self._start_task] if self._start_task else [])]:
                await self._settle(task)
            kernel = self.kernel
            if isinstance(kernel, AppKernel) and kernel.poll() is None:
                await kernel.detach()
            for tab in list(self.tabs):
                tab.close(1001, "the session has moved")
            self.tabs.clear()
        finally:
            self._closed.set()

    async def close(self) -> None:
        if self.detach_on_close:
            await self.release()
        else:
            await super().close()

    def _on_notification(self, note: Any, frame: bytes) -> None:
        if isinstance(note, protocol.VirtualFileNotice):
            self.files.note(note)
        elif isinstance(note, protocol.KernelDied):
            self.files.clear()
        super()._on_notification(note, frame)

    def _on_app_died(self, status: int | None, reason: str) -> None:
        if self.closing or self.respawns >= MAX_RESPAWNS:
            return
        self.respawns += 1
        self.broadcast(msgspec.msgpack.encode(AppRestarted(message=reason, app=self.app)))
        self.resuming, self.app_session = False, secrets.token_urlsafe(16)
        self.broadcast(self._announce())
        self._start_task = None
        self._ready.clear()
        self.start()  # a fresh kernel in a fresh app process; runs the notebook again

    def find_file(self, file_id: str, filename: str) -> FileSource | None:
        return self.files.find(file_id, filename)


class AppSessionManager(SessionManager):
    """The sessions of one app (run mode).

    Args:
        config: the server configuration (``notebook`` is the app's notebook).
        document: the app's notebook, opened.
        pool: the server's app pool.
        app: the app's name in the pool.
    """

    def __init__(self, config: ServerConfig, document: NotebookDocument, pool: AppPool, app: str) -> None:
        super().__init__(config, document)
        self.pool = pool
        self.app = app

    def new_run_session(self) -> AppRunSession:
        """A new reader session (kernel started by the caller with ``start()``).

        Raises:
            RuntimeError: the server is shutting down.
        """
        return self.run_session_for(None, "")

    def run_session_for(self, resume: str | None, key: str) -> AppRunSession:
        """The session of a reader connecting with browser ``key``: session ``resume`` of
        the app process when given (and well-formed), else a new one.

        Raises:
            RuntimeError: the server is shutting down.
        """
        if self._closing:
            raise RuntimeError("the server is shutting down")
        document, pool, name = self.main_document, self.pool, self.app
        python = self.config.python
        session = AppRunSession(
            document,
            lambda sid, resuming: AppKernel(pool, name, document.path, python, document.notebook.semantics,
                                            session_id=sid, resume=resuming, key=key),
            app=name,
            ready_timeout=self.config.kernel_ready_timeout,
            resume=resume if is_session_id(resume) else None,
            detach_on_close=pool.directory is not None,
        )
        self.run_sessions.add(session)
        return session

    async def end_run_session(self, session: Any) -> None:
        """The reader's connection closed: detach its kernel (kept by the app for the
        pool's grace period; stopped at once when the grace is 0)."""
        if not isinstance(session, AppRunSession) or self.pool.grace <= 0:
            await super().end_run_session(session)
            return
        try:
            await session.release()
        finally:
            self.run_sessions.discard(session)
            self._unbind_everywhere(session)
