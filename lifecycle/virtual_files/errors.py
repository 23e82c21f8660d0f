"""The exceptions of the virtual-file stores and author helpers (stdlib only)."""

from __future__ import annotations

__all__ = [
    "InvalidVirtualFileName",
    "StoreClosedError",
    "VirtualFileNotFoundError",
    "VirtualFilesDisabledError",
]


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
