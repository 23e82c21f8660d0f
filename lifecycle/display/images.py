"""Author helper for images: :func:`image` and :class:`Image` (PNG, JPEG, GIF, WebP, SVG).

Large images are published as virtual files when the kernel has a store
(:mod:`lifecycle.virtual_files` is imported lazily, on that path only).
"""

from __future__ import annotations

import html as html_lib
import os
from typing import Any

from lifecycle import context as context_module
from lifecycle.display.formatting import _describe, _report

__all__ = ["LARGE_IMAGE_BYTES", "Image", "image"]

LARGE_IMAGE_BYTES = 256 * 1024
"""Images larger than this (bytes) are published as virtual files when the kernel has a store."""


_IMAGE_FORMATS = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "svg": "image/svg+xml",
    "webp": "image/webp",
}
_IMAGE_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/svg+xml": "svg",
    "image/webp": "webp",
}


def _sniff_image(data: bytes) -> str | None:
    """The image MIME type ``data`` starts like (magic bytes), or ``None``."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (
        head.startswith((b"<?xml", b"<!--", b"<!doctype")) and b"<svg" in head
    ):
        return "image/svg+xml"
    return None


def _format_mimetype(format: str) -> str:
    key = format.lower().strip().lstrip(".")
    if key in _IMAGE_FORMATS:
        return _IMAGE_FORMATS[key]
    if key in _IMAGE_EXTENSIONS:
        return key
    raise ValueError(f"unsupported image format {format!r}; use one of png, jpeg, gif, svg, webp")


class Image:
    """Displays as an image: PNG, JPEG, GIF, WebP (``bytes``) or SVG (``str``).

    Args:
        data: the image bytes, SVG markup (a ``str`` starting with ``<``), or a path
            (``str``/``os.PathLike``) to read the image from.
        format: ``"png"``, ``"jpeg"``/``"jpg"``, ``"gif"``, ``"svg"``, ``"webp"`` (or the MIME
            type); ``None`` detects it from the magic bytes, then from the path's extension.
        width: display width in CSS pixels, or ``None``.
        alt: alternative text.

    Raises:
        ValueError: unknown or undetectable format, or a non-positive ``width``.
        TypeError: ``data`` or ``width`` has the wrong type.
        OSError: reading ``data`` from a path failed.

    The bundle is ``{<image MIME type>: payload, "text/plain": "<image/png, N bytes>"}`` with
    ``width``/``alt`` in the MIME type's metadata.  An image larger than
    :data:`LARGE_IMAGE_BYTES` displayed in a kernel that has a virtual-file store is published
    as a virtual file instead and shown as ``text/html`` ``<img src="@file/...">``.
    """

    def __init__(
        self,
        data: bytes | bytearray | memoryview | str | os.PathLike[str],
        *,
        format: str | None = None,
        width: int | None = None,
        alt: str = "",
    ) -> None:
        if width is not None:
            if not isinstance(width, int) or isinstance(width, bool):
                raise TypeError(f"width must be an int, got {type(width).__name__}")
            if width <= 0:
                raise ValueError(f"width must be positive, got {width}")
        if not isinstance(alt, str):
            raise TypeError(f"alt must be a str, got {type(alt).__name__}")
        path: str | None = None
        if isinstance(data, (bytes, bytearray, memoryview)):
            raw = bytes(data)
        elif isinstance(data, str) and data.lstrip().startswith("<"):
            raw = data.encode("utf-8")
        elif isinstance(data, (str, os.PathLike)):
            path = os.fspath(data)
            with open(path, "rb") as file:
                raw = file.read()
        else:
            raise TypeError(f"image() expects bytes, SVG text or a path, got {type(data).__name__}")
        if format is not None:
            mimetype = _format_mimetype(format)
        else:
            sniffed = _sniff_image(raw)
            extension = os.path.splitext(path)[1] if path else ""
            if sniffed is not None:
                mimetype = sniffed
            elif extension:
                mimetype = _format_mimetype(extension)
            else:
                raise ValueError("cannot detect the image format; pass format='png' (or jpeg, ...)")
        self.mimetype = mimetype
        self.data: bytes | str = raw.decode("utf-8") if mimetype == "image/svg+xml" else raw
        self.size = len(raw)
        self.width = width
        self.alt = alt

    @property
    def filename(self) -> str:
        """The file name used when the image is published as a virtual file."""
        return f"image.{_IMAGE_EXTENSIONS[self.mimetype]}"

    def _plain(self) -> str:
        return f"<{self.mimetype}, {self.size} bytes>"

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if self.size > LARGE_IMAGE_BYTES:
            url = self._publish()
            if url is not None:
                width = f' width="{self.width}"' if self.width is not None else ""
                tag = (
                    f'<img src="{html_lib.escape(url, quote=True)}" '
                    f'alt="{html_lib.escape(self.alt, quote=True)}"{width}>'
                )
                return {"text/html": tag, "text/plain": self._plain()}, {}
        options: dict[str, Any] = {}
        if self.width is not None:
            options["width"] = self.width
        if self.alt:
            options["alt"] = self.alt
        metadata = {self.mimetype: options} if options else {}
        return {self.mimetype: self.data, "text/plain": self._plain()}, metadata

    def _publish(self) -> str | None:
        """Publish the bytes as a virtual file of the running cell; ``None`` to inline them
        (no kernel, no store, or publishing unavailable/failed)."""
        ctx = context_module.current_or_none()
        if ctx is None or ctx.virtual_files is None or ctx.cell_id is None:
            return None
        try:
            from lifecycle import virtual_files

            publish = virtual_files.publish
        except (ImportError, AttributeError):
            return None
        payload = self.data.encode("utf-8") if isinstance(self.data, str) else self.data
        try:
            url = publish(payload, self.filename, self.mimetype)
        except Exception as exc:
            _report(self, [f"publishing as a virtual file failed ({_describe(exc)}); inlined"])
            return None
        return url if isinstance(url, str) else None

    def __repr__(self) -> str:
        extra = f", width={self.width}" if self.width is not None else ""
        return f"Image({self.mimetype}, {self.size} bytes{extra})"


def image(
    data: bytes | bytearray | memoryview | str | os.PathLike[str],
    *,
    format: str | None = None,
    width: int | None = None,
    alt: str = "",
) -> Image:
    """An object that displays an image; see :class:`Image` for the arguments and errors."""
    return Image(data, format=format, width=width, alt=alt)
