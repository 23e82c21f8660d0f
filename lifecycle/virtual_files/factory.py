"""The factory: :func:`create_store` builds the store a host asks for (or none)."""

from __future__ import annotations

from typing import Literal

from lifecycle.virtual_files.memory import InMemoryStore
from lifecycle.virtual_files.shared_memory import SharedMemoryStore
from lifecycle.virtual_files.store import VirtualFileStore

__all__ = ["create_store"]


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
