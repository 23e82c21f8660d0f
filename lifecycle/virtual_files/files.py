"""What a virtual file is: its URL scheme, :class:`VirtualFile`, filename and MIME type checks.

Every size in this module is a number of bytes.  Standard library only.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from lifecycle.virtual_files.errors import InvalidVirtualFileName

__all__ = [
    "DEFAULT_MIMETYPE",
    "MAX_FILENAME_BYTES",
    "SHM_PREFIX",
    "URL_PREFIX",
    "VirtualFile",
    "resolve_mimetype",
    "validate_filename",
]

URL_PREFIX = "@file/"
"""Every virtual-file URL starts with this (relative to the page that shows the notebook)."""

MAX_FILENAME_BYTES = 255
"""Longest accepted filename, in bytes of its UTF-8 encoding (the usual filesystem limit)."""

SHM_PREFIX = "amphi_"
"""Every shared-memory segment this package creates is named ``amphi_<pid>_<random hex>``."""

DEFAULT_MIMETYPE = "application/octet-stream"

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
