"""Author helpers: :func:`publish` a virtual file from a cell, :func:`download` links.

:mod:`lifecycle.context` (which imports msgspec) is imported only inside :func:`publish`, so
this module, like the rest of the package, imports only the standard library.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lifecycle.virtual_files.errors import VirtualFilesDisabledError
from lifecycle.virtual_files.files import (
    DEFAULT_MIMETYPE,
    _byte_view,
    resolve_mimetype,
    validate_filename,
)

if TYPE_CHECKING:
    from lifecycle.virtual_files.store import VirtualFileStore

__all__ = ["INLINE_LIMIT", "Download", "download", "publish"]

INLINE_LIMIT = 256 * 1024
"""Largest payload (bytes) :func:`publish` inlines as a ``data:`` URL when virtual files are
disabled."""


def _escape(text: str) -> str:
    import html

    return html.escape(text)


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
