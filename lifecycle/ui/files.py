"""File upload: the :class:`file` element and the :class:`UploadedFile` values it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lifecycle.ui.base import UIElement
from lifecycle.ui.values import _clean_str


class UploadedFile:
    """A file the reader uploaded through :class:`file`.

    Attributes:
        name: the file's name (no directory).
        contents: its bytes.
        mimetype: its MIME type as the browser reported it (may be ``""``).
    """

    __slots__ = ("contents", "mimetype", "name")

    def __init__(self, name: str, contents: bytes, mimetype: str = "") -> None:
        self.name = name
        self.contents = contents
        self.mimetype = mimetype

    @property
    def size(self) -> int:
        """Length of :attr:`contents` in bytes."""
        return len(self.contents)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UploadedFile):
            return NotImplemented
        return (self.name, self.contents, self.mimetype) == (other.name, other.contents, other.mimetype)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"UploadedFile(name={self.name!r}, size={self.size}, mimetype={self.mimetype!r})"


class file(UIElement):
    """A file upload button.

    Args:
        accept: allowed file types: extensions (``".csv"``) and MIME types (``"text/csv"``,
            ``"image/*"``); a str or a list; ``None``: any file.
        multiple: allow several files at once.
        max_size: the largest file accepted, in bytes (``None``: no limit).
        label: the button's text.

    The frontend sends a list of ``{"name": str, "contents": bytes, "type": str}`` (msgpack
    ``bin``; ``type`` may be omitted); ``.value`` is a list of :class:`UploadedFile` (empty
    until the reader uploads).  The wire value sent back lists ``{"name", "type", "size"}``
    only, never the contents.  ``element.value = x`` takes a list of :class:`UploadedFile`
    or of dicts as the frontend sends them.

    Raises:
        TypeError: (convert) not a list of such dicts, a name that is not a ``str``,
            contents that are not bytes.
        ValueError: ``max_size < 0``; (convert) several files when ``multiple`` is false, a
            file over ``max_size``, a file whose name/type matches nothing in ``accept``.
    """

    kind = "file"

    def __init__(
        self,
        *,
        accept: str | list[str] | None = None,
        multiple: bool = False,
        max_size: int | None = None,
        label: str = "Upload",
    ) -> None:
        if isinstance(accept, str):
            accept = [accept]
        if accept is not None and not all(isinstance(a, str) for a in accept):
            raise TypeError("file: accept must be a str or a list of str")
        if max_size is not None and (not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 0):
            raise ValueError(f"file: max_size must be a non-negative int, got {max_size!r}")
        self.accept = [a.strip().lower() for a in accept] if accept else []
        self.multiple = bool(multiple)
        self.max_size = max_size
        super().__init__([], label=label, accept=self.accept, multiple=self.multiple, max_size=max_size)

    def _accepted(self, upload: UploadedFile) -> bool:
        if not self.accept:
            return True
        name, mimetype = upload.name.lower(), upload.mimetype.lower()
        for pattern in self.accept:
            if pattern.startswith("."):
                if name.endswith(pattern):
                    return True
            elif pattern.endswith("/*"):
                if mimetype.startswith(pattern[:-1]):
                    return True
            elif mimetype == pattern:
                return True
        return False

    def _one(self, item: Any, index: int) -> UploadedFile:
        if isinstance(item, UploadedFile):
            upload = item
        elif isinstance(item, Mapping):
            name, contents, mimetype = item.get("name"), item.get("contents"), item.get("type", "")
            if not isinstance(name, str):
                raise TypeError(f"file {index}: 'name' must be a str, got {type(name).__name__}")
            if not isinstance(contents, (bytes, bytearray, memoryview)):
                raise TypeError(f"file {index} ({name!r}): 'contents' must be bytes, got {type(contents).__name__}")
            if mimetype is None:
                mimetype = ""
            if not isinstance(mimetype, str):
                raise TypeError(f"file {index} ({name!r}): 'type' must be a str, got {type(mimetype).__name__}")
            upload = UploadedFile(name, bytes(contents), mimetype)
        else:
            raise TypeError(f"file {index}: expected a dict with name, contents, type; got {type(item).__name__}")
        if self.max_size is not None and upload.size > self.max_size:
            raise ValueError(f"{upload.name!r} is {upload.size} bytes, over max_size={self.max_size}")
        if not self._accepted(upload):
            raise ValueError(f"{upload.name!r} ({upload.mimetype or 'no type'}) is not one of {self.accept!r}")
        return upload

    def convert(self, raw: Any) -> Any:
        if not isinstance(raw, (list, tuple)):
            raise TypeError(f"expected a list of files, got {type(raw).__name__}")
        if len(raw) > 1 and not self.multiple:
            raise ValueError(f"{len(raw)} files sent to a single-file upload")
        return [self._one(item, i) for i, item in enumerate(raw)]

    def wire_value(self) -> Any:
        return [{"name": _clean_str(f.name), "type": f.mimetype, "size": f.size} for f in self._value]
