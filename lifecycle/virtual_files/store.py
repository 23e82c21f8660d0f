"""The store interface: :class:`VirtualFileStore`, a kernel's thread-safe registry of files.

Subclasses decide where the bytes live (:mod:`lifecycle.virtual_files.memory`,
:mod:`lifecycle.virtual_files.shared_memory`).  Standard library only.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lifecycle.virtual_files.errors import StoreClosedError, VirtualFileNotFoundError
from lifecycle.virtual_files.files import (
    URL_PREFIX,
    VirtualFile,
    _byte_view,
    _quote,
    _unquote,
    resolve_mimetype,
    validate_filename,
)

__all__ = ["VirtualFileStore"]

_ID_BYTES = 16  # 128 bits of randomness
_ID_LENGTH = 22  # len(secrets.token_urlsafe(16)): always 22 characters


def _token_urlsafe(nbytes: int) -> str:
    import secrets

    return secrets.token_urlsafe(nbytes)


@dataclass
class _Entry:
    file: VirtualFile
    payload: Any = field(repr=False)


class VirtualFileStore(abc.ABC):
    """Registry of a kernel's virtual files, safe to use from several threads.

    The kernel thread creates and releases files while the server thread reads them; every
    operation holds one lock, including the copy made by :meth:`read`, so a file is never
    released halfway through a read.  Subclasses decide where the bytes live by implementing
    :meth:`_put`, :meth:`_fetch` and :meth:`_drop`.

    ``url_or_id`` arguments accept either the full ``@file/<id>-<filename>`` URL (the filename
    part must name the same file, percent-encoded or not) or the bare ``file_id``.  Anything
    else is simply unknown: a lookup never touches the filesystem.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._files: dict[str, _Entry] = {}
        self._closed = False
        self.listeners: list[Callable[[str, VirtualFile], None]] = []
        """Called with ``("created" | "released", file)`` after each change, outside the lock
        (hosts use it to tell the server where a file lives)."""

    def _notify(self, event: str, files: list[VirtualFile]) -> None:
        for file in files:
            for listener in list(self.listeners):
                try:
                    listener(event, file)
                except Exception:  # a broken listener must not break the store
                    logging.getLogger("amphikernel.virtual_files").exception("listener failed")

    # -- storage hooks

    @abc.abstractmethod
    def _put(self, view: memoryview) -> tuple[Any, str | None]:
        """Store ``view``; return ``(payload, shm_name or None)``.  Called without the lock."""

    @abc.abstractmethod
    def _fetch(self, payload: Any, size: int) -> bytes:
        """Return the ``size`` stored bytes.  Called with the lock held."""

    @abc.abstractmethod
    def _drop(self, payload: Any) -> None:
        """Free the storage.  Must not raise for storage that is already gone."""

    # -- public API

    def create(
        self,
        data: bytes | bytearray | memoryview,
        filename: str,
        mimetype: str | None = None,
        *,
        owner: str | None = None,
    ) -> VirtualFile:
        """Store a copy of ``data`` and return its description (with its URL).

        Args:
            data: the content (copied); any bytes-like object is read as raw bytes.
            filename: shown to the user and used in the URL; see :func:`validate_filename`.
            mimetype: served MIME type; guessed from ``filename`` when ``None``.
            owner: who created it, normally the id of the running cell (see
                :meth:`release_owner`).

        Raises:
            InvalidVirtualFileName: ``filename`` is not acceptable.
            ValueError: ``mimetype`` is malformed.
            TypeError: ``data`` is not a bytes-like object.
            StoreClosedError: the store was shut down.
        """
        validate_filename(filename)
        resolved = resolve_mimetype(filename, mimetype)
        view = _byte_view(data)
        if self._closed:
            raise StoreClosedError("the virtual-file store has been shut down")
        payload, shm_name = self._put(view)
        with self._lock:
            if self._closed:
                self._drop(payload)
                raise StoreClosedError("the virtual-file store has been shut down")
            file_id = _token_urlsafe(_ID_BYTES)
            while file_id in self._files:  # pragma: no cover - 2**-128 odds
                file_id = _token_urlsafe(_ID_BYTES)
            file = VirtualFile(
                file_id=file_id,
                filename=filename,
                mimetype=resolved,
                size=view.nbytes,
                url=f"{URL_PREFIX}{file_id}-{_quote(filename, safe='')}",
                owner=owner,
                shm_name=shm_name,
            )
            self._files[file_id] = _Entry(file, payload)
        self._notify("created", [file])
        return file

    def get(self, url_or_id: str) -> VirtualFile | None:
        """The file's description, or ``None`` if unknown."""
        with self._lock:
            entry = self._lookup(url_or_id)
            return entry.file if entry is not None else None

    def read(self, url_or_id: str) -> bytes:
        """The file's content (exactly ``size`` bytes).

        Raises:
            VirtualFileNotFoundError: no such file (unknown id, mismatched filename, released).
        """
        with self._lock:
            entry = self._lookup(url_or_id)
            if entry is None:
                raise VirtualFileNotFoundError(f"no virtual file {url_or_id!r}")
            return self._fetch(entry.payload, entry.file.size)

    def release(self, url_or_id: str) -> bool:
        """Forget one file and free its storage; ``False`` if it was not known."""
        with self._lock:
            entry = self._lookup(url_or_id)
            if entry is None:
                return False
            del self._files[entry.file.file_id]
            self._drop(entry.payload)
        self._notify("released", [entry.file])
        return True

    def release_owner(self, owner: str) -> int:
        """Release every file created with ``owner`` (a cell that re-runs or is deleted).

        Returns the number of files released.
        """
        with self._lock:
            doomed = [e for e in self._files.values() if e.file.owner == owner]
            for entry in doomed:
                del self._files[entry.file.file_id]
                self._drop(entry.payload)
        self._notify("released", [e.file for e in doomed])
        return len(doomed)

    def files(self) -> list[VirtualFile]:
        """Descriptions of every stored file, oldest first."""
        with self._lock:
            return [entry.file for entry in self._files.values()]

    def shutdown(self) -> None:
        """Release every file and refuse new ones.  Idempotent."""
        with self._lock:
            self._closed = True
            entries = list(self._files.values())
            self._files.clear()
            for entry in entries:
                self._drop(entry.payload)

    @property
    def closed(self) -> bool:
        """``True`` after :meth:`shutdown`."""
        return self._closed

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)

    def __contains__(self, url_or_id: object) -> bool:
        with self._lock:
            return self._lookup(url_or_id) is not None

    def __enter__(self) -> VirtualFileStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def _lookup(self, url_or_id: object) -> _Entry | None:
        """The entry a URL or bare id names, or ``None``.  Caller holds the lock."""
        if not isinstance(url_or_id, str):
            return None
        if not url_or_id.startswith(URL_PREFIX):
            return self._files.get(url_or_id)
        rest = url_or_id[len(URL_PREFIX) :]
        file_id, tail = rest[:_ID_LENGTH], rest[_ID_LENGTH:]  # ids are fixed-length
        entry = self._files.get(file_id) if tail.startswith("-") else None
        name = tail[1:]
        if entry is None or entry.file.filename not in (name, _unquote(name)):
            return None
        return entry
