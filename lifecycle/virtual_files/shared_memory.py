"""The shared-memory store: each file in its own segment that the server process can read.

Segments are named ``amphi_<pid>_<random>``; the server reads them with
:func:`lifecycle.virtual_files.reader.read_shared` without a round trip through the kernel.
``multiprocessing.shared_memory`` (missing or useless in Pyodide) is imported on the first file,
never at import time.

Resource-tracker handling (POSIX): the kernel creates segments with the default tracking, so if
the kernel process dies without :meth:`VirtualFileStore.shutdown` its resource tracker still
unlinks them (see :mod:`lifecycle.virtual_files.reader` for the reader's side).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lifecycle.virtual_files.files import SHM_PREFIX
from lifecycle.virtual_files.reader import read_shared
from lifecycle.virtual_files.store import VirtualFileStore, _Entry

if TYPE_CHECKING:
    from multiprocessing.shared_memory import SharedMemory

__all__ = ["SharedMemoryStore"]


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
