"""Console capture: the stdout/stderr of a running cell, batched into a few ordered messages.

:func:`create_console` (``factory``) makes a :class:`Console` (``console``: cell lifecycle,
buffer accounting, batching and delivery to the sink, with the pure text helpers of
``batching``) in one of three modes, one module each: ``fd``, ``replace`` and ``thread_local``
(which also holds the process-wide routing proxies); ``threaded`` is the flusher thread shared
by fd and thread-local modes, ``buffer`` one cell's chunk buffer and the text streams writing
into it, ``pipes`` the descriptor-level helpers of fd mode.  May import: the standard library
only (platform modules such as ``fcntl``, ``select`` and ``ctypes`` lazily, inside functions);
never another :mod:`lifecycle` module, nor zmq, starlette, uvicorn, js, pyodide,
subprocess_host or pyodide_host.

A host picks one of three capture modes when it creates a kernel (see the hosts table in
``ARCHITECTURE.md``)::

    console = create_console(mode, sink, max_bytes_per_cell=5_000_000)
    console.start_cell(cell_id)   # in the thread that runs the cell
    ...                           # print(), sys.stderr.write(), os.system(), C writes, threads
    console.end_cell()            # same thread: everything is delivered through ``sink`` first
    console.close()               # teardown: restores streams and file descriptors

``"fd"`` (subprocess host, one kernel per process): file descriptors 1 and 2, so C extensions
and child processes are captured (:mod:`lifecycle.streams.fd`).  ``"replace"`` (Pyodide: one
thread, no threading): ``sys.stdout``/``sys.stderr`` are swapped during the cell
(:mod:`lifecycle.streams.replace`).  ``"thread-local"`` (thread hosts: many kernels, one thread
each, in one process): per-thread routing proxies installed once per process
(:mod:`lifecycle.streams.thread_local`).  How output is batched, capped and delivered in every
mode is described in :mod:`lifecycle.streams.console`.
"""

from lifecycle.streams.buffer import StreamName
from lifecycle.streams.console import DEFAULT_MAX_BYTES_PER_CELL, Console, ConsoleMode, Sink
from lifecycle.streams.factory import create_console
from lifecycle.streams.pipes import _partial_token_length as _partial_token_length
from lifecycle.streams.thread_local import (
    install_thread_local_proxies,
    uninstall_thread_local_proxies,
)

__all__ = [
    "DEFAULT_MAX_BYTES_PER_CELL",
    "Console",
    "ConsoleMode",
    "Sink",
    "StreamName",
    "create_console",
    "install_thread_local_proxies",
    "uninstall_thread_local_proxies",
]
