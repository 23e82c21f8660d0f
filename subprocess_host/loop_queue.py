"""A command queue from any thread to a coroutine on one event loop (run-mode kernel threads).

A run-mode kernel thread (:class:`subprocess_host.thread_kernel.ThreadKernel`) runs its
control loop in an event loop of its own and waits there for the server's next command.  With
a :class:`queue.Queue` that wait had to choose between blocking the thread (cheap, but
background tasks a cell started would stall while the kernel is idle) and a thread-pool hop,
and choosing meant listing every task of the process (``asyncio.all_tasks`` walks all of
them, ~2 ms with a thousand readers connected) on every command.  A :class:`LoopQueue` makes
the wait an ordinary ``await``: the loop keeps running its other tasks, and a ``put`` from the
server thread wakes the waiting coroutine with one ``call_soon_threadsafe`` (only when a
reader is actually waiting; commands that arrive while a cell runs are just appended).

Same guarantees as the queue it replaces: unbounded, first in first out across threads, never
blocks the putting thread.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import threading
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class LoopQueue(Generic[T]):
    """Unbounded FIFO: :meth:`put` from any thread, :meth:`get` awaited on one loop.

    ``get_nowait`` raises :class:`queue.Empty` like :class:`queue.Queue` (so
    :mod:`lifecycle.kernel_lifecycle`'s non-blocking drains work on it unchanged).
    """

    def __init__(self) -> None:
        self._items: collections.deque[T] = collections.deque()
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: T) -> None:
        """Append ``item`` (any thread; never blocks).  Once the reader's loop is closed the
        item is kept but wakes nobody."""
        with self._lock:
            self._items.append(item)
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            try:
                waiter.get_loop().call_soon_threadsafe(_wake, waiter)
            except RuntimeError:  # the loop is closed: nobody will read any more
                pass

    put = put_nowait
    """Alias (``queue.Queue`` spelling): hosts put ``Stop`` with ``control.put(...)``."""

    def get_nowait(self) -> T:
        """The first item.

        Raises:
            queue.Empty: nothing is waiting.
        """
        try:
            return self._items.popleft()
        except IndexError:
            raise queue.Empty from None

    async def get(self) -> T:
        """The first item, waiting on the running loop (which keeps running its other
        tasks) until one is put.  One reader at a time."""
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._waiter = waiter
            try:
                await waiter
            finally:
                with self._lock:  # cancelled (or woken): no stale waiter stays behind
                    if self._waiter is waiter:
                        self._waiter = None

    def qsize(self) -> int:
        """Items waiting (a snapshot)."""
        return len(self._items)


async def loop_queue_reader(q: LoopQueue[Any]) -> Any:
    """``get_request`` for :func:`lifecycle.kernel_lifecycle.serve`: the next item of ``q``."""
    return await q.get()
