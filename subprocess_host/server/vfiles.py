"""Where a session's virtual files live, as seen by the server.

* :class:`AnnouncedFiles` (edit mode, kernel subprocess): the kernel announces every file in
  a ``virtual-file`` notification (URL, MIME type, size, shared-memory segment) before any
  output uses it; the server keeps the announcements and reads the bytes straight from shared
  memory with :func:`lifecycle.virtual_files.read_shared`.
* :class:`StoreFiles` (run mode, kernel thread): the kernel's in-memory store lives in this
  process and is asked directly.

Both answer :meth:`find` with a :class:`FileSource` (or ``None``) for a file id and filename
taken from a ``/@file/<id>-<filename>`` URL (:func:`split_file_path`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lifecycle import protocol
from lifecycle.virtual_files import URL_PREFIX, read_shared, validate_filename

FILE_ID_LENGTH = 22
"""Length of a virtual-file id (``secrets.token_urlsafe(16)``)."""

_FILE_ID = re.compile(rf"[A-Za-z0-9_-]{{{FILE_ID_LENGTH}}}")


class BadFilePath(ValueError):
    """A ``/@file/`` path whose filename part is not an acceptable filename (answer 400)."""


@dataclass(frozen=True)
class FileSource:
    """A virtual file a session may serve.

    Attributes:
        file_id: its id (22 URL-safe characters).
        filename: its validated name.
        mimetype: the MIME type to serve it with.
        size: its length in bytes.
        read: ``read(n)`` returns its first ``n`` bytes (``n <= size``); may block (shared
            memory): call it in a worker thread.  Raises
            :class:`lifecycle.virtual_files.VirtualFileNotFoundError` once the file is gone.
    """

    file_id: str
    filename: str
    mimetype: str
    size: int
    read: Callable[[int], bytes]


def split_file_path(rest: str) -> tuple[str, str] | None:
    """Split the part of a ``/@file/`` path after the prefix into ``(file_id, filename)``.

    Returns ``None`` when it cannot name a file (no valid id, no ``-``): answer 404.

    Raises:
        BadFilePath: the filename part is not acceptable (``..``, a path separator, NUL or
            another control character...): answer 400.
    """
    file_id, sep, filename = rest[:FILE_ID_LENGTH], rest[FILE_ID_LENGTH : FILE_ID_LENGTH + 1], rest[FILE_ID_LENGTH + 1 :]
    if sep != "-" or not _FILE_ID.fullmatch(file_id):
        return None
    try:
        validate_filename(filename)
    except ValueError as exc:
        raise BadFilePath(str(exc)) from None
    return file_id, filename


def file_id_of(url: str) -> str | None:
    """The id in a ``@file/<id>-<name>`` URL, or ``None``."""
    if not url.startswith(URL_PREFIX):
        return None
    file_id = url[len(URL_PREFIX) : len(URL_PREFIX) + FILE_ID_LENGTH]
    return file_id if _FILE_ID.fullmatch(file_id) else None


class AnnouncedFiles:
    """Virtual files of a kernel subprocess, from its ``virtual-file`` notifications."""

    def __init__(self) -> None:
        self._files: dict[str, protocol.VirtualFileNotice] = {}

    def note(self, notice: protocol.VirtualFileNotice) -> None:
        """Record a created file, or forget a released one."""
        file_id = file_id_of(notice.url)
        if file_id is None:
            return
        if notice.released:
            self._files.pop(file_id, None)
        elif notice.shm_name:
            self._files[file_id] = notice

    def clear(self) -> None:
        """Forget every file (the kernel is gone: its segments are unlinked)."""
        self._files.clear()

    def __len__(self) -> int:
        return len(self._files)

    def find(self, file_id: str, filename: str) -> FileSource | None:
        """The file with this id and name, or ``None``."""
        notice = self._files.get(file_id)
        if notice is None or notice.filename != filename or notice.shm_name is None:
            return None
        shm_name, size = notice.shm_name, notice.size
        return FileSource(
            file_id=file_id,
            filename=filename,
            mimetype=notice.mimetype,
            size=size,
            read=lambda n: read_shared(shm_name, min(n, size)),
        )


class StoreFiles:
    """Virtual files of a kernel thread, read from its in-memory store.

    Args:
        get_store: returns the kernel's store (``runtime.virtual_files``), or ``None`` while
            the kernel has none.
    """

    def __init__(self, get_store: Callable[[], Any]) -> None:
        self._get_store = get_store

    def find(self, file_id: str, filename: str) -> FileSource | None:
        """The file with this id and name, or ``None``."""
        store = self._get_store()
        if store is None:
            return None
        file = store.get(file_id)
        if file is None or file.filename != filename:
            return None
        return FileSource(
            file_id=file_id,
            filename=filename,
            mimetype=file.mimetype,
            size=file.size,
            read=lambda n: store.read(file_id)[:n],
        )
