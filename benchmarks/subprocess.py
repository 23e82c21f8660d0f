"""Subprocess-host benchmarks: a real kernel subprocess over ZeroMQ, and run-mode thread kernels.

Floors: ``python -c "import zmq, msgspec"`` for start-up; a raw ZeroMQ PUSH/PULL echo round
trip through a Python echo process for the re-run round trip.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks.report import Figure, print_figures
from lifecycle import protocol
from subprocess_host.client import KernelClient
from subprocess_host.thread_kernel import ThreadKernel

RUNS = 20


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _import_floor(runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import zmq, msgspec"], check=True)
        out.append(time.perf_counter() - t0)
    return out


class _Waiter:
    def __init__(self, client: Any) -> None:
        self.event = asyncio.Event()
        self.count = 0
        self.consoles = 0
        self.kind: type = protocol.CompletedRun
        client.on_notification(self._on)

    def _on(self, note: Any, frame: bytes) -> None:
        self.count += 1
        if isinstance(note, protocol.CellConsole):
            self.consoles += 1
        if isinstance(note, self.kind):
            self.event.set()

    async def run(self, client: Any, cells: dict[str, str]) -> float:
        self.event.clear()
        self.consoles = 0
        t0 = time.perf_counter()
        await client.send(protocol.ExecuteCells(cell_ids=list(cells), codes=list(cells.values())))
        await asyncio.wait_for(self.event.wait(), 60)
        return time.perf_counter() - t0


async def _startup() -> tuple[list[float], list[float], list[float], list[float]]:
    ready, first, rss, stop = [], [], [], []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        client = KernelClient()
        waiter = _Waiter(client)
        await client.start()
        await client.wait_ready(30)
        ready.append(time.perf_counter() - t0)
        assert client.pid is not None
        rss.append(_rss_mib(client.pid))
        await waiter.run(client, {"a": "x = 1"})
        first.append(time.perf_counter() - t0)
        process = client.process
        assert process is not None
        t1 = time.perf_counter()
        await client.transport.send("control", protocol.encode(protocol.Stop()))  # type: ignore[union-attr]
        client._stopping = True
        await process.wait()
        stop.append(time.perf_counter() - t1)
        await client.shutdown()
    return ready, first, rss, stop


ECHO = """
import sys, zmq
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL); pull.connect(sys.argv[1])
push = ctx.socket(zmq.PUSH); push.connect(sys.argv[2])
while True:
    frame = pull.recv()
    if frame == b"stop":
        break
    push.send(frame)
"""


async def _zmq_echo_floor(runs: int) -> list[float]:
    import zmq
    import zmq.asyncio

    ctx = zmq.asyncio.Context()
    push = ctx.socket(zmq.PUSH)
    push.bind("tcp://127.0.0.1:*")
    pull = ctx.socket(zmq.PULL)
    pull.bind("tcp://127.0.0.1:*")
    proc = subprocess.Popen([sys.executable, "-c", ECHO, push.getsockopt(zmq.LAST_ENDPOINT).decode(),
                             pull.getsockopt(zmq.LAST_ENDPOINT).decode()])
    try:
        frame = protocol.encode(protocol.ExecuteCells(cell_ids=["a"], codes=["x = 1"]))
        for _ in range(50):  # warm the connection
            await push.send(frame)
            await pull.recv()
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            await push.send(frame)
            await pull.recv()
            samples.append(time.perf_counter() - t0)
        await push.send(b"stop")
        return samples
    finally:
        proc.wait(10)
        push.close(0)
        pull.close(0)
        ctx.term()


async def _steady_state() -> dict[str, Any]:
    client = KernelClient()
    waiter = _Waiter(client)
    await client.start()
    await client.wait_ready(30)
    try:
        await waiter.run(client, {"a": "x = 1"})
        for _ in range(50):
            await waiter.run(client, {"a": "x = 1"})
        rerun = [await waiter.run(client, {"a": "x = 1"}) for _ in range(1000)]
        prints, print_msgs = [], []
        for _ in range(RUNS):
            prints.append(await waiter.run(client, {"p": "for i in range(20000):\n    print(i)"}))
            print_msgs.append(waiter.consoles)
        big = []
        code = (
            "class Blob:\n    def _repr_mimebundle_(self, include=None, exclude=None):\n"
            "        return {'application/octet-stream': bytes(10_000_000)}\nBlob()"
        )
        for _ in range(RUNS):
            big.append(await waiter.run(client, {"big": code}))
        return {"rerun": rerun, "prints": prints, "print_msgs": print_msgs, "big": big}
    finally:
        await client.shutdown()


async def _death_detection() -> list[float]:
    """kill -9 of a kernel printing 10 MB chunks -> kernel-died seen by the host."""
    import signal

    samples = []
    for _ in range(5):
        client = KernelClient()
        seen: list[float] = []
        died = asyncio.Event()

        def on(note: Any, frame: bytes, seen: list[float] = seen, died: asyncio.Event = died) -> None:
            if isinstance(note, protocol.KernelDied):
                seen.append(time.perf_counter())
                died.set()

        client.on_notification(on)
        await client.start()
        await client.wait_ready(30)
        await client.send(protocol.ExecuteCells(cell_ids=["big"], codes=[
            "import sys\nfor _ in range(1000):\n    sys.stdout.write('x' * 10_000_000)\n    sys.stdout.flush()"]))
        await asyncio.sleep(0.3)
        t0 = time.perf_counter()
        assert client.pid is not None
        os.kill(client.pid, signal.SIGKILL)
        await asyncio.wait_for(died.wait(), 10)
        samples.append(seen[0] - t0)
        await client.shutdown()
    return samples


async def _run_mode_sessions(count: int = 20) -> tuple[list[float], float]:
    gc.collect()
    before = _rss_mib(os.getpid())
    kernels = []
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        kernel = ThreadKernel()
        await kernel.start()
        await kernel.wait_ready(10)
        times.append(time.perf_counter() - t0)
        kernels.append(kernel)
    gc.collect()
    after = _rss_mib(os.getpid())
    for kernel in kernels:
        await kernel.shutdown()
    return times, (after - before) / count


def main() -> None:
    ready, first, rss, stop = asyncio.run(_startup())
    floor = _import_floor(RUNS)
    steady = asyncio.run(_steady_state())
    echo = asyncio.run(_zmq_echo_floor(1000))
    sessions, per_session = asyncio.run(_run_mode_sessions())
    deaths = asyncio.run(_death_detection())
    rerun = Figure("trivial re-run round trip (execute-cells -> completed-run)", steady["rerun"], echo,
                   "raw ZeroMQ echo round trip", "<= 3x floor")
    figures = [
        Figure("spawn -> ready", ready, floor, 'python -c "import zmq, msgspec"', "<= 1.6x floor"),
        Figure("spawn -> first completed run", first, floor, 'python -c "import zmq, msgspec"'),
        rerun,
        Figure("20,000 printed lines (send -> completed-run)", steady["prints"], None, "", "",
               extra=f"cell-console messages: max {max(steady['print_msgs'])}"),
        Figure("10 MB output (send -> completed-run)", steady["big"], None, "", ""),
        Figure("stop -> kernel exit", stop, None, "", "<= 20 ms"),
        Figure("kill -9 mid 10 MB output -> kernel-died at the host", deaths, None, "", "< 1 s"),
        Figure("run-mode session (thread kernel) start -> ready", sessions, None, "", ""),
    ]
    print_figures("subprocess host", figures)
    print(f"{'trivial re-run p99':58s} {rerun.p99() * 1e3:9.3f} ms  (floor p99 "
          f"{sorted(echo)[int(0.99 * (len(echo) - 1))] * 1e3:.3f} ms)")
    print(f"{'kernel RSS at ready (median)':58s} {statistics.median(rss):9.1f} MiB  target <= 30 MiB")
    print(f"{'run-mode memory per session':58s} {per_session:9.2f} MiB")


if __name__ == "__main__":
    main()
