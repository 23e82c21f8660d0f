"""LoopQueue (subprocess_host/loop_queue.py): the run-mode kernel thread's command queue.

Real threads and real event loops: order across threads, a waiting reader woken by a put from
another thread, the loop's other tasks running while the reader waits (the reason it replaced
a blocking ``queue.Queue.get``), cancellation, and a closed loop.
"""

from __future__ import annotations

import asyncio
import queue
import threading

import pytest

from subprocess_host.loop_queue import LoopQueue, loop_queue_reader

pytestmark = pytest.mark.timeout(60)


def run_in_thread(coro_fn, *args):  # type: ignore[no-untyped-def]
    """Run ``coro_fn(*args)`` with ``asyncio.run`` in a new thread; returns (thread, result box)."""
    box: dict[str, object] = {}

    def main() -> None:
        try:
            box["result"] = asyncio.run(coro_fn(*args))
        except BaseException as exc:  # reported by the test
            box["error"] = exc

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    return thread, box


def test_items_from_several_threads_arrive_in_each_threads_order() -> None:
    q: LoopQueue[tuple[int, int]] = LoopQueue()
    producers, per = 4, 2000

    async def consume() -> list[tuple[int, int]]:
        return [await loop_queue_reader(q) for _ in range(producers * per)]

    consumer, box = run_in_thread(consume)

    def produce(p: int) -> None:
        for i in range(per):
            q.put_nowait((p, i))

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    consumer.join(30)
    assert "error" not in box, box
    got = box["result"]
    assert isinstance(got, list) and len(got) == producers * per
    for p in range(producers):
        assert [i for (q_, i) in got if q_ == p] == list(range(per))
    assert q.qsize() == 0


def test_a_waiting_reader_is_woken_and_other_tasks_keep_running_meanwhile() -> None:
    q: LoopQueue[str] = LoopQueue()
    ticked = threading.Event()

    async def consume() -> tuple[str, int]:
        ticks = 0

        async def background() -> None:  # a task a cell started: must run while idle
            nonlocal ticks
            while True:
                ticks += 1
                if ticks == 5:
                    ticked.set()
                await asyncio.sleep(0.001)

        task = asyncio.get_running_loop().create_task(background())
        item = await q.get()
        task.cancel()
        return item, ticks

    consumer, box = run_in_thread(consume)
    assert ticked.wait(20), "the loop's other task did not run while the reader waited"
    q.put("go")
    consumer.join(20)
    assert "error" not in box, box
    item, ticks = box["result"]  # type: ignore[misc]
    assert item == "go" and ticks >= 5


def test_get_nowait_raises_queue_empty_and_put_is_put_nowait() -> None:
    q: LoopQueue[int] = LoopQueue()
    with pytest.raises(queue.Empty):
        q.get_nowait()
    q.put(1)
    q.put_nowait(2)
    assert [q.get_nowait(), q.get_nowait()] == [1, 2]
    with pytest.raises(queue.Empty):
        q.get_nowait()


async def test_a_cancelled_get_leaves_no_waiter_and_loses_nothing() -> None:
    q: LoopQueue[int] = LoopQueue()
    waiting = asyncio.get_running_loop().create_task(q.get())
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert q._waiter is None
    q.put(7)  # nobody waits: appended, no wake-up scheduled on a dead future
    assert await asyncio.wait_for(q.get(), 5) == 7


def test_a_put_after_the_readers_loop_closed_does_not_raise() -> None:
    q: LoopQueue[int] = LoopQueue()
    loop = asyncio.new_event_loop()
    task = loop.create_task(q.get())
    loop.run_until_complete(asyncio.sleep(0.01))  # the reader now waits on this loop
    assert q._waiter is not None
    task.cancel()
    loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
    q._waiter = loop.create_future()  # as if the loop died with a reader waiting
    loop.close()
    q.put(1)  # call_soon_threadsafe on a closed loop: swallowed
    assert q.get_nowait() == 1
