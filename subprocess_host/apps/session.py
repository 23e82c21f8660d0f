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
"""

from __future__ import annotations

import logging
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


class AppRunSession(RunSession):
    """One reader of an app served by an app process (see the module docstring)."""

    def __init__(self, document: NotebookDocument, make_kernel: Any, *, app: str, ready_timeout: float = 60.0) -> None:
        super().__init__(document, self._new_kernel, ready_timeout=ready_timeout)
        self.app = app
        self._make_kernel = make_kernel
        self.files = AnnouncedFiles()
        self.respawns = 0

    def _new_kernel(self) -> AppKernel:
        kernel: AppKernel = self._make_kernel()
        kernel.on_app_died(self._on_app_died)
        return kernel

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
        if self._closing:
            raise RuntimeError("the server is shutting down")
        document, pool, name = self.main_document, self.pool, self.app
        python = self.config.python
        session = AppRunSession(
            document,
            lambda: AppKernel(pool, name, document.path, python, document.notebook.semantics),
            app=name,
            ready_timeout=self.config.kernel_ready_timeout,
        )
        self.run_sessions.add(session)
        return session
