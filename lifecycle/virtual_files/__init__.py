"""Virtual files: bytes a cell publishes that the frontend fetches by URL.

This package holds the virtual-file model (:mod:`.files`, :mod:`.errors`), the store interface
(:mod:`.store`), the in-memory and shared-memory stores (:mod:`.memory`,
:mod:`.shared_memory`), the cross-process reader :func:`read_shared` (:mod:`.reader`), the
factory :func:`create_store` (:mod:`.factory`) and the author helpers :func:`publish` and
:func:`download` (:mod:`.authoring`).  It may import the standard library and lower lifecycle
layers only (:mod:`lifecycle.context`, and only lazily, inside :func:`publish`); never msgspec
at import time, zmq, starlette, uvicorn, js, pyodide, subprocess_host or pyodide_host.

A cell that produces an image, a download or a widget's ES module does not have to send the
bytes inline in its output: it stores them in the kernel's :class:`VirtualFileStore` and
outputs a URL of the form ``@file/<file_id>-<filename>``.  The host serves that URL (the local
server over HTTP, the service worker in Pyodide).

Two stores exist, chosen by the host through :func:`create_store`:

* :class:`InMemoryStore` keeps the bytes in this process (Pyodide, run-mode kernel threads).
* :class:`SharedMemoryStore` writes each file into its own POSIX/Windows shared-memory segment
  named ``amphi_<pid>_<random>``, so the server process can read it with :func:`read_shared`
  without a round trip through the kernel.

Every size in this package is a number of bytes.

Every module here imports only the standard library at import time, so the server (and readers
on any CPython 3.10+) can use :func:`read_shared` without msgspec;
``multiprocessing.shared_memory`` and ``mmap`` (missing or useless in Pyodide) are imported only
by the shared-memory code paths, and :mod:`lifecycle.context` only by the author helpers
:func:`publish` and :func:`download`.

Resource-tracker handling (POSIX) is described in :mod:`lifecycle.virtual_files.shared_memory`
(the kernel's side) and :mod:`lifecycle.virtual_files.reader` (the reader's side).
"""

from __future__ import annotations

from lifecycle.virtual_files.authoring import INLINE_LIMIT, Download, download, publish
from lifecycle.virtual_files.errors import (
    InvalidVirtualFileName,
    StoreClosedError,
    VirtualFileNotFoundError,
    VirtualFilesDisabledError,
)
from lifecycle.virtual_files.factory import create_store
from lifecycle.virtual_files.files import DEFAULT_MIMETYPE as DEFAULT_MIMETYPE
from lifecycle.virtual_files.files import (
    MAX_FILENAME_BYTES,
    SHM_PREFIX,
    URL_PREFIX,
    VirtualFile,
    resolve_mimetype,
    validate_filename,
)
from lifecycle.virtual_files.memory import InMemoryStore
from lifecycle.virtual_files.reader import read_shared
from lifecycle.virtual_files.shared_memory import SharedMemoryStore
from lifecycle.virtual_files.store import VirtualFileStore

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
