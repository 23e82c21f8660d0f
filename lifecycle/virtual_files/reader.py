"""The reader side: :func:`read_shared` copies a virtual file out of another process's segment.

The server (and readers on any CPython 3.10+) import this without msgspec: standard library
only, and ``multiprocessing.shared_memory``/``mmap`` only when reading.

A *reader* must never register a segment: on CPython < 3.13 attaching through
``SharedMemory(name)`` registers it with the reader's tracker, which unlinks it when the reader
exits, and unregistering afterwards is not safe either when the reader shares a tracker with the
kernel (same process, or a ``multiprocessing`` child): the tracker keeps a *set* of names, so
the reader's unregister would drop the kernel's own registration.  :func:`read_shared`
therefore attaches with ``track=False`` on 3.13+, and on older versions opens the segment
read-only with the same primitive ``SharedMemory`` uses (``_posixshmem.shm_open``, stable in
every released 3.8-3.12) without touching the tracker at all.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable

from lifecycle.virtual_files.errors import VirtualFileNotFoundError

__all__ = ["read_shared"]

_SHM_NAME = re.compile(r"amphi_[0-9a-f]{1,16}_[0-9a-f]{1,32}")


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
