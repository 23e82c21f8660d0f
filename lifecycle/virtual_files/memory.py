"""The in-memory store: file bytes kept in this process (Pyodide, run-mode kernel threads)."""

from __future__ import annotations

from lifecycle.virtual_files.store import VirtualFileStore

__all__ = ["InMemoryStore"]


class InMemoryStore(VirtualFileStore):
    """Keeps each file's bytes in this process (Pyodide, kernel threads in the server)."""

    def _put(self, view: memoryview) -> tuple[bytes, None]:
        return view.tobytes(), None

    def _fetch(self, payload: bytes, size: int) -> bytes:
        return payload  # immutable: no copy needed

    def _drop(self, payload: bytes) -> None:
        pass
