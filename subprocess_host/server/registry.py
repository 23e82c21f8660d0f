"""Every session of a server, and which browser may read which session's virtual files.

A *browser key* is the value of the HttpOnly ``amphi_session`` cookie (set when the page is
served, or on the WebSocket handshake of a client that has none; a client may also give it
as ``?session=`` in the WebSocket URL).  Sessions are bound to the keys of the tabs attached
to them; ``/@file/`` serves a file only to a key bound to the session whose kernel created
it.  A well-formed key this server has not issued is adopted rather than replaced, so two
servers on one host (cookies ignore ports) do not keep logging each other out.

Edit mode: one :class:`EditSession` per notebook path, created on first use and kept until
the server stops.  Run mode: one :class:`RunSession` per WebSocket connection, removed when it
closes.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from pathlib import Path

from subprocess_host.server.config import NOTEBOOK_SUFFIXES, ServerConfig
from subprocess_host.server.kernels import edit_kernel, run_kernel
from subprocess_host.server.notebook import NotebookDocument
from subprocess_host.server.session import EditSession, RunSession, Session
from subprocess_host.server.vfiles import FileSource

log = logging.getLogger("amphikernel.server")

_KEY = re.compile(r"[A-Za-z0-9_-]{16,128}")


class NotebookNotFound(LookupError):
    """A requested notebook is not one this server may open (message says why)."""


def is_valid_key(key: str | None) -> bool:
    """Whether ``key`` is a well-formed browser key (16-128 URL-safe characters)."""
    return key is not None and _KEY.fullmatch(key) is not None


def new_key() -> str:
    """A fresh browser key (192 random bits)."""
    return secrets.token_urlsafe(24)


class SessionManager:
    """The sessions of one server.

    Args:
        config: the server's configuration.
        main_document: the main notebook, already opened (edit mode: created if missing).
    """

    def __init__(self, config: ServerConfig, main_document: NotebookDocument) -> None:
        self.config = config
        self.main_document = main_document
        self.edit_sessions: dict[Path, EditSession] = {}
        self.run_sessions: set[RunSession] = set()
        self._bindings: dict[str, set[Session]] = {}
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None

    # --------------------------------------------------------------- notebooks
    def resolve_notebook(self, file: str | None) -> Path:
        """The notebook a page or socket asks for: the main one when ``file`` is empty,
        else (edit mode) an existing ``.py``/``.ipynb`` file under the main notebook's
        directory, given relative to it.

        Raises:
            NotebookNotFound: run mode with another file, an absolute path or one leaving the
                directory, another suffix, or a file that does not exist.
        """
        if not file or Path(file) == Path(self.config.notebook.name):
            return self.config.notebook
        if self.config.mode != "edit":
            raise NotebookNotFound("run mode serves a single notebook")
        if "\x00" in file or Path(file).is_absolute():
            raise NotebookNotFound(f"{file!r} is not a relative notebook path")
        root = self.config.root.resolve()
        path = (root / file).resolve()
        if not path.is_relative_to(root):
            raise NotebookNotFound(f"{file!r} is outside {root}")
        if path.suffix.lower() not in NOTEBOOK_SUFFIXES or not path.is_file():
            raise NotebookNotFound(f"no notebook {file!r}")
        return root / file

    def edit_session(self, path: Path) -> EditSession:
        """The edit session of ``path`` (from :meth:`resolve_notebook`), created on first
        use; its kernel starts now.

        Raises:
            RuntimeError: the server is shutting down.
            lifecycle.notebook.NotebookFormatError, OSError: the notebook cannot be read.
        """
        if self._closing:
            raise RuntimeError("the server is shutting down")
        key = path.resolve()
        session = self.edit_sessions.get(key)
        if session is None:
            document = (
                self.main_document if key == self.config.notebook.resolve()
                else NotebookDocument.open(path, create=False)
            )
            python = self.config.python
            session = EditSession(
                document,
                lambda: edit_kernel(document.path, document.notebook.semantics, python),
                ready_timeout=self.config.kernel_ready_timeout,
            )
            self.edit_sessions[key] = session
            log.info("edit session %s for %s", session.id, path)
        session.start()
        return session

    def new_run_session(self) -> RunSession:
        """A new app-reader session on the main notebook (its kernel is started by the
        caller once the tab is attached, with :meth:`Session.start`).

        Raises:
            RuntimeError: the server is shutting down.
        """
        if self._closing:
            raise RuntimeError("the server is shutting down")
        document = self.main_document
        session = RunSession(
            document,
            lambda: run_kernel(document.notebook.semantics),
            ready_timeout=self.config.kernel_ready_timeout,
        )
        self.run_sessions.add(session)
        return session

    async def end_run_session(self, session: RunSession) -> None:
        """Stop a run session's kernel and forget it (its connection closed)."""
        try:
            await session.close()
        finally:
            self.run_sessions.discard(session)
            self._unbind_everywhere(session)

    # -------------------------------------------------------------- browser keys
    def bind(self, key: str, session: Session) -> None:
        """Let browser ``key`` read ``session``'s virtual files."""
        self._bindings.setdefault(key, set()).add(session)

    def unbind(self, key: str, session: Session) -> None:
        """Undo :meth:`bind`."""
        sessions = self._bindings.get(key)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._bindings[key]

    def _unbind_everywhere(self, session: Session) -> None:
        for key in [k for k, s in self._bindings.items() if session in s]:
            self.unbind(key, session)

    def find_file(self, key: str | None, file_id: str, filename: str) -> FileSource | None:
        """The virtual file ``file_id``/``filename`` if a session bound to ``key`` has it."""
        if not is_valid_key(key):
            return None
        for session in self._bindings.get(key or "", ()):
            source = session.find_file(file_id, filename)
            if source is not None:
                return source
        return None

    # ---------------------------------------------------------------- shutdown
    async def close(self) -> None:
        """Stop every session's kernel.  Idempotent: later and concurrent calls wait for
        the first one to finish."""
        self._closing = True
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._close_all())
        await asyncio.shield(self._close_task)

    async def _close_all(self) -> None:
        sessions: list[Session] = [*self.edit_sessions.values(), *self.run_sessions]
        if sessions:
            log.info("stopping %d kernel(s)", len(sessions))
        results = await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.error("stopping a session failed: %r", result)
        self.run_sessions.clear()
        self._bindings.clear()
