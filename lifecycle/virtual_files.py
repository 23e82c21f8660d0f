"""Virtual files: bytes a cell publishes that the frontend fetches by URL.

A cell that produces an image, a download or a widget's ES module does not have to send the
bytes inline in its output: it stores them in the kernel's :class:`VirtualFileStore` and
outputs a URL of the form ``@file/<file_id>-<filename>``.  The host serves that URL (the local
server over HTTP, the service worker in Pyodide).

Two stores exist, chosen by the host through :func:`create_store`:

* :class:`InMemoryStore` keeps the bytes in this process (Pyodide, run-mode kernel threads).
* :class:`SharedMemoryStore` writes each file into its own POSIX/Windows shared-memory segment
  named ``amphi_<pid>_<random>``, so the server process can read it with :func:`read_shared`
  without a round trip through the kernel.

Every size in this module is a number of bytes.

This module imports only the standard library at import time, so the server (and readers on any
CPython 3.10+) can use :func:`read_shared` without msgspec; ``multiprocessing.shared_memory``
and ``mmap`` (missing or useless in Pyodide) are imported only by the shared-memory code paths, and
:mod:`lifecycle.context` only by the author helpers :func:`publish` and :func:`download`.

Resource-tracker handling (POSIX): the kernel creates segments with the default tracking, so if
the kernel process dies without :meth:`VirtualFileStore.shutdown` its resource tracker still
unlinks them.  A *reader* must never register a segment: on CPython < 3.13 attaching through
``SharedMemory(name)`` registers it with the reader's tracker, which unlinks it when the reader
exits, and unregistering afterwards is not safe either when the reader shares a tracker with the
kernel (same process, or a ``multiprocessing`` child): the tracker keeps a *set* of names, so
the reader's unregister would drop the kernel's own registration.  :func:`read_shared`
therefore attaches with ``track=False`` on 3.13+, and on older versions opens the segment
read-only with the same primitive ``SharedMemory`` uses (``_posixshmem.shm_open``, stable in
every released 3.8-3.12) without touching the tracker at all.
"""

from __future__ import annotations

import abc
import base64
import logging
import os
import re
import sys
import threading
import unicodedata
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from multiprocessing.shared_memory import SharedMemory

__all__ = [
    "INLINE_LIMIT",
    "MAX_FILENAME_BYTES",
    "SHM_PREFIX",
    "URL_PREFIX",
    "Download",
    "InMemoryStore",
    "InvalidVirtualFileName",
    "SharedMemoryStore",
    "StoreClosedError",
    "VirtualFile",
    "VirtualFileNotFoundError",
    "VirtualFileStore",
    "VirtualFilesDisabledError",
    "create_store",
    "download",
    "publish",
    "read_shared",
    "resolve_mimetype",
    "validate_filename",
]

URL_PREFIX = "@file/"
"""Every virtual-file URL starts with this (relative to the page that shows the notebook)."""

INLINE_LIMIT = 256 * 1024
"""Largest payload (bytes) :func:`publish` inlines as a ``data:`` URL when virtual files are
disabled."""

MAX_FILENAME_BYTES = 255
"""Longest accepted filename, in bytes of its UTF-8 encoding (the usual filesystem limit)."""

SHM_PREFIX = "amphi_"
"""Every shared-memory segment this module creates is named ``amphi_<pid>_<random hex>``."""

DEFAULT_MIMETYPE = "application/octet-stream"

_ID_BYTES = 16  # 128 bits of randomness
_ID_LENGTH = 22  # len(secrets.token_urlsafe(16)): always 22 characters
_SHM_NAME = re.compile(r"amphi_[0-9a-f]{1,16}_[0-9a-f]{1,32}")
_TOKEN = r"[A-Za-z0-9!#$&^_.+-]+"
_MIMETYPE = re.compile(
    rf"{_TOKEN}/{_TOKEN}(?:\s*;\s*{_TOKEN}=(?:{_TOKEN}|\"[^\"\\\x00-\x1f\x7f]*\"))*"
)
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_COMPRESSED_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}


# --------------------------------------------------------------------------------------- errors


class VirtualFileNotFoundError(KeyError):
    """No virtual file (or shared-memory segment) matches the URL, id or name given."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0]) if self.args else "virtual file not found"


class InvalidVirtualFileName(ValueError):
    """A filename is empty, too long, or contains a path separator, ``..`` or control chars."""


class VirtualFilesDisabledError(RuntimeError):
    """Virtual files are disabled and the data is too large to inline as a ``data:`` URL."""


class StoreClosedError(RuntimeError):
    """:meth:`VirtualFileStore.create` was called after :meth:`VirtualFileStore.shutdown`."""


# ------------------------------------------------------------------------------------ the file


@dataclass(frozen=True)
class VirtualFile:
    """Description of one stored virtual file (the bytes live in the store).

    Attributes:
        file_id: unguessable identifier (``secrets.token_urlsafe``, 128 bits, 22 characters).
        filename: the validated filename given to :meth:`VirtualFileStore.create`.
        mimetype: MIME type served with the bytes.
        size: length of the content, in bytes.
        url: ``@file/<file_id>-<filename, URL-quoted>``.
        owner: who created it (normally a cell id), or ``None``.
        shm_name: name of the shared-memory segment holding the bytes
            (:class:`SharedMemoryStore` only); pass it with ``size`` to :func:`read_shared`.
    """

    file_id: str
    filename: str
    mimetype: str
    size: int
    url: str
    owner: str | None = None
    shm_name: str | None = None


def _quote(text: str, safe: str = "/") -> str:
    from urllib.parse import quote  # imported on use: kernel start-up stays fast

    return quote(text, safe=safe)


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)


def _token_urlsafe(nbytes: int) -> str:
    import secrets

    return secrets.token_urlsafe(nbytes)


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def validate_filename(filename: str) -> str:
    """Return ``filename`` unchanged if it is acceptable as a virtual-file name.

    Raises:
        InvalidVirtualFileName: not a string, empty, ``.`` or ``..``, longer than
            :data:`MAX_FILENAME_BYTES` bytes in UTF-8, or containing ``/``, ``\\``, NUL, a
            control character, a line/paragraph separator or a bidirectional-override char.
    """
    if not isinstance(filename, str):
        raise InvalidVirtualFileName(f"filename must be a str, not {type(filename).__name__}")
    if not filename:
        raise InvalidVirtualFileName("filename must not be empty")
    if filename in (".", ".."):
        raise InvalidVirtualFileName(f"filename must not be {filename!r}")
    if "/" in filename or "\\" in filename:
        raise InvalidVirtualFileName(
            f"filename {filename!r} must not contain a path separator ('/' or '\\')"
        )
    for char in filename:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs") or char in _BIDI_CONTROLS:
            raise InvalidVirtualFileName(
                f"filename {filename!r} contains the forbidden character U+{ord(char):04X}"
            )
    size = len(filename.encode("utf-8"))
    if size > MAX_FILENAME_BYTES:
        raise InvalidVirtualFileName(
            f"filename is {size} bytes long in UTF-8; the limit is {MAX_FILENAME_BYTES} bytes"
        )
    return filename


def resolve_mimetype(filename: str, mimetype: str | None = None) -> str:
    """``mimetype`` if given (validated), else a guess from ``filename``'s extension.

    Compressed files (``.gz``, ``.bz2``, ``.xz``, ``.br``, ``.Z``) get the compression's type,
    since the bytes are served as they are.  Unknown extensions give
    ``application/octet-stream``.

    Raises:
        ValueError: ``mimetype`` is not of the form ``type/subtype[; param=value]...``.
    """
    if mimetype is not None:
        if not isinstance(mimetype, str) or not _MIMETYPE.fullmatch(mimetype):
            raise ValueError(f"invalid mimetype {mimetype!r}: expected 'type/subtype'")
        return mimetype
    # Quote first so a name such as "data:x" is not parsed as a URL scheme.
    import mimetypes

    guessed, encoding = mimetypes.guess_type(_quote(filename))
    if encoding is not None:
        return _COMPRESSED_TYPES.get(encoding, DEFAULT_MIMETYPE)
    return guessed or DEFAULT_MIMETYPE


def _byte_view(data: bytes | bytearray | memoryview) -> memoryview:
    """A flat, C-contiguous, unsigned-byte view of ``data``."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, bytearray or memoryview, not {type(data).__name__}")
    view = memoryview(data)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    return view.cast("B")


# ------------------------------------------------------------------------------------ the store


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


class InMemoryStore(VirtualFileStore):
    """Keeps each file's bytes in this process (Pyodide, kernel threads in the server)."""

    def _put(self, view: memoryview) -> tuple[bytes, None]:
        return view.tobytes(), None

    def _fetch(self, payload: bytes, size: int) -> bytes:
        return payload  # immutable: no copy needed

    def _drop(self, payload: bytes) -> None:
        pass


class SharedMemoryStore(VirtualFileStore):
    """Writes each file to its own shared-memory segment, readable by other processes.

    Segments are named ``amphi_<pid>_<random hex>`` (see :data:`VirtualFile.shm_name`), are
    created with the owner-only mode ``0o600``, and are at least 1 byte long (a zero-byte file
    gets a 1-byte segment; the recorded ``size`` stays 0).  On POSIX the kernel keeps no
    mapping or descriptor open once a file is written (a notebook with thousands of images
    must not run out of file descriptors); on Windows the segment lives only while a handle is
    open, so the store keeps it open.  :meth:`release` and :meth:`shutdown` unlink segments;
    segments left at garbage collection or interpreter exit are unlinked too.

    Raises:
        RuntimeError: (at construction) ``multiprocessing.shared_memory`` is not available,
            e.g. in Pyodide.
    """

    def __init__(self) -> None:
        # multiprocessing.shared_memory is imported on the first file, not here: kernel
        # start-up stays fast.  Only check that the platform can have it.
        import importlib.util

        if os.name != "nt" and importlib.util.find_spec("_posixshmem") is None:
            raise RuntimeError(
                "shared-memory virtual files are not available on this platform; "
                "use storage='in_memory'"
            )
        super().__init__()
        self._shared_memory_class: type[SharedMemory] | None = None
        self._finalizer = weakref.finalize(self, _drop_all, self._lock, self._files, self._drop)

    def _segment_class(self) -> type[SharedMemory]:
        if self._shared_memory_class is None:
            from multiprocessing.shared_memory import SharedMemory

            self._shared_memory_class = SharedMemory
        return self._shared_memory_class

    def _put(self, view: memoryview) -> tuple[SharedMemory, str]:
        segment = _create_segment(self._segment_class(), max(view.nbytes, 1))
        try:
            segment.buf[: view.nbytes] = view
        except BaseException:
            self._drop(segment)
            raise
        if os.name != "nt":
            segment.close()
        return segment, segment.name

    def _fetch(self, payload: SharedMemory, size: int) -> bytes:
        if os.name == "nt":
            with payload.buf[:size] as view:
                return bytes(view)
        return read_shared(payload.name, size)

    @staticmethod
    def _drop(payload: SharedMemory) -> None:
        payload.close()
        try:
            payload.unlink()
        except FileNotFoundError:
            pass

    def shutdown(self) -> None:
        """Release every file, unlinking every segment (nothing is left in ``/dev/shm``)."""
        super().shutdown()
        self._finalizer.detach()


def _create_segment(shared_memory_class: type[SharedMemory], size: int) -> SharedMemory:
    """A new tracked segment of at least ``size`` bytes named ``amphi_<pid>_<random>``."""
    while True:
        name = f"{SHM_PREFIX}{os.getpid():x}_{os.urandom(6).hex()}"
        try:
            return shared_memory_class(name=name, create=True, size=size)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue


def _drop_all(lock: threading.RLock, files: dict[str, _Entry], drop: Callable[[Any], None]) -> None:
    """Finalizer of :class:`SharedMemoryStore`: free whatever is still stored."""
    with lock:
        entries = list(files.values())
        files.clear()
        for entry in entries:
            drop(entry.payload)


# ----------------------------------------------------------------------- cross-process reading


def read_shared(shm_name: str, size: int) -> bytes:
    """Read ``size`` bytes of a virtual file from the segment another process created.

    The server process calls this with :attr:`VirtualFile.shm_name` and :attr:`VirtualFile.size`.
    The segment is attached read-only, copied, and detached; it is never registered with this
    process's resource tracker, so it is not unlinked (and no warning is printed) when this
    process exits, on any CPython from 3.10 on.

    Args:
        shm_name: a segment name created by :class:`SharedMemoryStore` (``amphi_...``).
        size: number of bytes to return (segments may be rounded up to a page size).

    Raises:
        ValueError: ``shm_name`` is not a name this module creates, ``size`` is negative, or
            the segment is smaller than ``size``.
        VirtualFileNotFoundError: no segment has that name (e.g. it was released).
        RuntimeError: shared memory is not available on this platform (Pyodide).
    """
    if not isinstance(shm_name, str) or not _SHM_NAME.fullmatch(shm_name):
        raise ValueError(f"{shm_name!r} is not an amphikernel shared-memory segment name")
    if not isinstance(size, int) or size < 0:
        raise ValueError(f"size must be a non-negative number of bytes, not {size!r}")
    try:
        return _read_segment(shm_name, size)
    except FileNotFoundError as exc:
        raise VirtualFileNotFoundError(f"no shared-memory segment {shm_name!r}") from exc


def _read_segment(shm_name: str, size: int) -> bytes:
    if os.name != "nt" and sys.version_info < (3, 13):
        try:
            import _posixshmem  # the primitive SharedMemory itself uses on POSIX
        except ImportError:
            pass
        else:
            return _read_posix_untracked(_posixshmem.shm_open, shm_name, size)
    try:
        from multiprocessing.shared_memory import SharedMemory
    except ImportError as exc:
        raise RuntimeError("shared memory is not available on this platform") from exc
    if sys.version_info >= (3, 13):
        segment = SharedMemory(name=shm_name, track=False)
    else:  # Windows (no resource tracker), or a POSIX build without _posixshmem
        segment = SharedMemory(name=shm_name)
        if os.name != "nt":
            from multiprocessing import resource_tracker

            resource_tracker.unregister(segment._name, "shared_memory")  # type: ignore[attr-defined]
    try:
        _check_size(shm_name, segment.size, size)
        with segment.buf[:size] as view:
            return bytes(view)
    finally:
        segment.close()


def _read_posix_untracked(shm_open: Callable[..., int], shm_name: str, size: int) -> bytes:
    import mmap  # lazily: not needed (and maybe absent) in Pyodide

    fd = shm_open("/" + shm_name, os.O_RDONLY, mode=0o600)
    try:
        _check_size(shm_name, os.fstat(fd).st_size, size)
        if size == 0:
            return b""
        with mmap.mmap(fd, size, prot=mmap.PROT_READ) as mapping:
            return mapping[:]
    finally:
        os.close(fd)


def _check_size(shm_name: str, available: int, size: int) -> None:
    if size > available:
        raise ValueError(f"segment {shm_name!r} holds {available} bytes, fewer than {size}")


# -------------------------------------------------------------------------------- the factory


def create_store(
    storage: Literal["in_memory", "shared_memory"] | None,
) -> VirtualFileStore | None:
    """The store a host asked for: ``None`` disables virtual files.

    Raises:
        ValueError: unknown ``storage``.
        RuntimeError: ``"shared_memory"`` where shared memory is unavailable (Pyodide).
    """
    if storage is None:
        return None
    if storage == "in_memory":
        return InMemoryStore()
    if storage == "shared_memory":
        return SharedMemoryStore()
    raise ValueError(
        f"unknown virtual-file storage {storage!r}; expected 'in_memory', 'shared_memory' or None"
    )


# ----------------------------------------------------------------------------- author helpers


def publish(
    data: bytes | bytearray | memoryview, filename: str, mimetype: str | None = None
) -> str:
    """Store ``data`` as a virtual file of the running cell and return its URL.

    The file belongs to the running cell and is released when that cell re-runs or is deleted.
    When the kernel has virtual files disabled, data of at most :data:`INLINE_LIMIT` bytes is
    returned inline as a ``data:<mimetype>;base64,...`` URL instead.

    Raises:
        NoKernelContextError: called outside a running amphikernel cell.
        VirtualFilesDisabledError: virtual files are disabled and ``data`` is larger than
            :data:`INLINE_LIMIT` bytes.
        InvalidVirtualFileName: ``filename`` is not acceptable.
        ValueError: ``mimetype`` is malformed.
    """
    from lifecycle import context  # imports msgspec; keep read_shared importable without it

    ctx = context.current()
    store: VirtualFileStore | None = ctx.virtual_files
    if store is not None:
        return store.create(data, filename, mimetype, owner=ctx.cell_id).url
    validate_filename(filename)
    resolved = resolve_mimetype(filename, mimetype)
    view = _byte_view(data)
    if view.nbytes > INLINE_LIMIT:
        raise VirtualFilesDisabledError(
            f"cannot publish {filename!r}: it is {view.nbytes} bytes, virtual files are disabled "
            f"in this kernel and only data of at most {INLINE_LIMIT} bytes can be inlined"
        )
    return f"data:{resolved};base64,{base64.b64encode(view).decode('ascii')}"


@dataclass(frozen=True)
class Download:
    """A download link (what :func:`download` returns); renders as an ``<a download>``.

    Attributes:
        filename: the name the browser saves the file under.
        size: content length in bytes.
        mimetype: served MIME type.
        label: link text.
        url: ``@file/...`` or ``data:`` URL, or ``None`` when the download is unavailable.
        reason: why the download is unavailable (``url`` is ``None``), else ``None``.
    """

    filename: str
    size: int
    mimetype: str
    label: str
    url: str | None
    reason: str | None = None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """``text/html`` (escaped link or notice) and ``text/plain``, filtered by MIME type."""
        name = _escape(self.filename)
        if self.url is None:
            reason = self.reason or "unavailable"
            bundle = {
                "text/plain": f"Download of {self.filename!r} unavailable: {reason}",
                "text/html": (
                    f'<div class="amphi-download-unavailable" role="note">Download of '
                    f"<code>{name}</code> unavailable: {_escape(reason)}</div>"
                ),
            }
        else:
            bundle = {
                "text/plain": f"Download {self.filename!r} ({self.size} bytes): {self.label}",
                "text/html": (
                    f'<a href="{_escape(self.url)}" download="{name}">'
                    f"{_escape(self.label)}</a>"
                ),
            }
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        return bundle


def download(
    data: bytes | bytearray | memoryview | str,
    filename: str,
    mimetype: str | None = None,
    *,
    label: str | None = None,
) -> Download:
    """A download link for ``data``, published as a virtual file of the running cell.

    Args:
        data: the content; a ``str`` is encoded as UTF-8 (and a guessed ``text/*`` type gets
            ``;charset=utf-8``; an unknown type becomes ``text/plain``).
        filename: the name the browser saves it under (see :func:`validate_filename`).
        mimetype: served MIME type; guessed from ``filename`` when ``None``.
        label: link text; defaults to ``filename``.

    When virtual files are disabled and ``data`` is larger than :data:`INLINE_LIMIT` bytes the
    returned object renders a notice explaining why the download is unavailable.

    Raises:
        NoKernelContextError: called outside a running amphikernel cell.
        InvalidVirtualFileName: ``filename`` is not acceptable.
        ValueError: ``mimetype`` is malformed.
    """
    validate_filename(filename)
    if isinstance(data, str):
        data = data.encode("utf-8")
        if mimetype is None:
            guessed = resolve_mimetype(filename)
            if guessed == DEFAULT_MIMETYPE:
                guessed = "text/plain"
            mimetype = f"{guessed};charset=utf-8" if guessed.startswith("text/") else guessed
    resolved = resolve_mimetype(filename, mimetype)
    size = _byte_view(data).nbytes
    text = label if label is not None else filename
    try:
        url: str | None = publish(data, filename, resolved)
        reason = None
    except VirtualFilesDisabledError:
        url = None
        reason = (
            f"the file is {size} bytes, virtual files are disabled in this kernel and only "
            f"files of at most {INLINE_LIMIT} bytes can be embedded in the page"
        )
    return Download(filename, size, resolved, text, url, reason)
