"""``python -m benchmarks load``: many run-mode readers on one notebook, every one moving its slider.

The server (``amphi run``, one kernel thread per reader) runs in its own process; this process
drives the WebSockets (``websockets`` on asyncio), so the client's memory and decoding do not
count in the server's RSS.  The notebook has a slider and a cell depending on it::

    s = ui.slider(0, 1_000_000, value=0); s      # cell "slider"
    s.value * 2                                  # cell "double"

Figures (each a median with its floor beside it, or a percentile; memory from
``/proc/<pid>/status`` ``VmRSS``):

* server RSS idle (no session: the floor) and with all readers connected, RSS per session;
* slider -> output round trip (``update-ui-element`` sent until the dependent cell's
  ``cell-output`` with the new value arrives) with 50 readers moving their sliders and with
  all of them, p50/p99; the floor is a WebSocket round trip to the same server that no kernel
  handles (a frame the server refuses itself);
* errors: connections that failed, ``kernel-error``/``kernel-died`` frames, outputs that were
  wrong or never came (must be 0).

Goal (issue 16): 1,000 sessions within 300 MiB, p99 <= 50 ms with 50 active.

Usage: ``python -m benchmarks load [--sessions N] [--active A] [--moves M]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect

from subprocess_host.server.batching import split_message

UI_MIME = "application/vnd.amphikernel.ui+json"
SLIDER_CELL = "from lifecycle import ui\ns = ui.slider(0, 1_000_000, value=0)\ns"
DOUBLE_CELL = "s.value * 2"
GOAL_MIB = 300.0
GOAL_P99_MS = 50.0


class Errors:
    """Every failure a reader saw, by kind."""

    def __init__(self) -> None:
        self.kinds: dict[str, int] = {}

    def add(self, kind: str) -> None:
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


class Reader:
    """One reader's WebSocket: waits for its slider, then moves it on demand."""

    def __init__(self, ws: ClientConnection, errors: Errors) -> None:
        self.ws = ws
        self.errors = errors
        self.element: str | None = None
        self.double_id: str | None = None
        self.ready = asyncio.Event()
        self._want: str | None = None
        self._got = asyncio.Event()
        self._pong = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if not isinstance(frame, bytes):
                    self.errors.add("text frame")
                    continue
                for one in split_message(frame):  # a ``frames`` batch, as the page reads it
                    self._on(msgspec.msgpack.decode(one))
        except Exception:
            pass

    def _on(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "notebook":
            cells = message["cells"]
            self.double_id = cells[1]["id"]
        elif kind == "cell-output":
            data = message.get("data", {})
            if UI_MIME in data and self.element is None:
                self.element = data[UI_MIME]["id"]
            elif message.get("cell_id") == self.double_id:
                text = data.get("text/plain")
                if self._want is not None and text == self._want:
                    self._got.set()
        elif kind == "completed-run":
            if self.element is not None:
                self.ready.set()
        elif kind == "kernel-error":
            if message.get("command_type") == "no-such-command":
                self._pong.set()
            else:
                self.errors.add("kernel-error")
        elif kind == "kernel-died":
            self.errors.add("kernel-died")

    async def move(self, value: int, timeout: float) -> float | None:
        """Set the slider; seconds until the dependent output shows ``value * 2`` (``None``:
        timed out, counted as an error)."""
        assert self.element is not None
        self._want = repr(value * 2)
        self._got.clear()
        start = time.perf_counter()
        await self.ws.send(msgspec.msgpack.encode({"type": "update-ui-element", "values": {self.element: value}}))
        try:
            await asyncio.wait_for(self._got.wait(), timeout)
        except asyncio.TimeoutError:
            self.errors.add("output never came")
            return None
        return time.perf_counter() - start

    async def ping(self, timeout: float) -> float | None:
        """A frame the server refuses itself (no kernel involved): the WebSocket floor."""
        self._pong.clear()
        start = time.perf_counter()
        await self.ws.send(msgspec.msgpack.encode({"type": "no-such-command"}))
        try:
            await asyncio.wait_for(self._pong.wait(), timeout)
        except asyncio.TimeoutError:
            return None
        return time.perf_counter() - start

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (``VmRSS``)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads), seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_count(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def start_server(notebook: Path, token: str) -> tuple[subprocess.Popen[str], str]:
    """``amphi run notebook`` in a subprocess; returns it and its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "subprocess_host.cli", "run", str(notebook), "--port", "0",
         "--token", token, "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("http"):
        proc.kill()
        raise RuntimeError(f"the server did not start (printed {line!r})")
    return proc, line.split("?")[0].rstrip("/")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def connect_readers(url: str, count: int, errors: Errors, parallel: int) -> list[Reader]:
    """Open ``count`` readers, ``parallel`` at a time, each waiting for its first run."""
    readers: list[Reader] = []
    gate = asyncio.Semaphore(parallel)

    async def one() -> None:
        async with gate:
            try:
                ws = await connect(url, max_size=None, open_timeout=120, ping_interval=None)
            except Exception:
                errors.add("connect failed")
                return
            reader = Reader(ws, errors)
            readers.append(reader)
            try:
                await asyncio.wait_for(reader.ready.wait(), 300)
            except asyncio.TimeoutError:
                errors.add("first run never completed")

    await asyncio.gather(*(one() for _ in range(count)))
    return readers


async def drive(readers: list[Reader], moves: int, timeout: float) -> list[float]:
    """Every reader moves its slider ``moves`` times, one move after the other's output."""
    times: list[float] = []

    async def one(index: int, reader: Reader) -> None:
        for move in range(moves):
            elapsed = await reader.move(1 + index * 1000 + move, timeout)
            if elapsed is not None:
                times.append(elapsed)

    await asyncio.gather(*(one(i, r) for i, r in enumerate(readers) if r.element is not None))
    return times


async def run(sessions: int, active: int, moves: int, parallel: int, batch: bool = True) -> dict[str, Any]:
    errors = Errors()
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="amphi-load-") as tmp:
        notebook = Path(tmp) / "load.py"
        notebook.write_text(f"# %%\n{SLIDER_CELL}\n\n# %%\n{DOUBLE_CELL}\n", encoding="utf-8")
        proc, base = start_server(notebook, token)
        readers: list[Reader] = []
        try:
            ws_url = base.replace("http://", "ws://", 1) + f"/ws?token={token}" + ("&batch=1" if batch else "")
            await asyncio.sleep(0.5)
            idle = rss_mib(proc.pid)
            t0 = time.perf_counter()
            readers = await connect_readers(ws_url, sessions, errors, parallel)
            connect_s = time.perf_counter() - t0
            await asyncio.sleep(1.0)
            loaded = rss_mib(proc.pid)
            threads = thread_count(proc.pid)
            live = [r for r in readers if r.element is not None]
            floor = [t for t in [await live[0].ping(10) for _ in range(50)] if t is not None] if live else []
            one = await drive(live[:1], moves * 2, timeout=60)
            cpu0, client0, wall0 = cpu_seconds(proc.pid), cpu_seconds(os.getpid()), time.perf_counter()
            few = await drive(live[:active], moves, timeout=60)
            few_wall = time.perf_counter() - wall0
            few_server_cpu = cpu_seconds(proc.pid) - cpu0
            few_client_cpu = cpu_seconds(os.getpid()) - client0
            cpu_per_move = few_server_cpu / max(1, len(few))
            client_per_move = few_client_cpu / max(1, len(few))
            everyone = await drive(live, max(1, moves // 4), timeout=120)
            after = rss_mib(proc.pid)
            alive = proc.poll() is None
        finally:
            await asyncio.gather(*(r.close() for r in readers))
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if not alive:
        errors.add("server died")
    return {
        "sessions": sessions, "connected": len(live), "active": min(active, len(live)),
        "connect_s": connect_s, "idle": idle, "loaded": loaded, "after": after, "threads": threads,
        "floor": floor, "few": few, "all": everyone, "errors": errors, "one": one,
        "cpu_per_move": cpu_per_move, "client_per_move": client_per_move, "batch": batch,
        "few_wall": few_wall, "few_server_cpu": few_server_cpu, "few_client_cpu": few_client_cpu,
        "load": os.getloadavg(),
    }


def report(r: dict[str, Any]) -> None:
    ms = 1000.0
    per_session_kib = (r["loaded"] - r["idle"]) * 1024 / max(1, r["connected"])
    rows = [
        ("sessions connected", f"{r['connected']} / {r['sessions']}", f"in {r['connect_s']:.1f} s, server threads {r['threads']}"),
        ("server RSS idle (floor)", f"{r['idle']:.1f} MiB", ""),
        (f"server RSS with {r['connected']} sessions", f"{r['loaded']:.1f} MiB", f"goal <= {GOAL_MIB:.0f} MiB: {r['loaded'] / GOAL_MIB:.2f} x goal"),
        ("server RSS after all moved", f"{r['after']:.1f} MiB", ""),
        ("RSS per session", f"{per_session_kib:.0f} KiB", f"goal {GOAL_MIB * 1024 / 1000:.0f} KiB incl. idle (300 MiB / 1,000)"),
        ("WebSocket round trip, no kernel (floor)", f"p50 {statistics.median(r['floor']) * ms:.1f} ms" if r["floor"] else "-", f"p99 {percentile(r['floor'], 99) * ms:.1f} ms" if r["floor"] else ""),
        ("slider -> output, 1 active", f"p50 {percentile(r['one'], 50) * ms:.1f} ms", f"p99 {percentile(r['one'], 99) * ms:.1f} ms, n={len(r['one'])}"),
        ("server CPU per slider move", f"{r['cpu_per_move'] * ms:.2f} ms", f"client (this process) {r['client_per_move'] * ms:.2f} ms per move"),
        (f"CPU share, {r['active']} active phase", f"server {r['few_server_cpu'] / max(r['few_wall'], 1e-9):.0%}",
         f"client {r['few_client_cpu'] / max(r['few_wall'], 1e-9):.0%} of one core, over {r['few_wall']:.1f} s wall"),
        (f"slider -> output, {r['active']} active", f"p50 {percentile(r['few'], 50) * ms:.1f} ms", f"p99 {percentile(r['few'], 99) * ms:.1f} ms (goal <= {GOAL_P99_MS:.0f} ms: {percentile(r['few'], 99) * ms / GOAL_P99_MS:.2f} x goal), n={len(r['few'])}"),
        (f"slider -> output, all {r['connected']} active", f"p50 {percentile(r['all'], 50) * ms:.1f} ms", f"p99 {percentile(r['all'], 99) * ms:.1f} ms, n={len(r['all'])}"),
        ("errors (must be 0)", str(r["errors"].total), ", ".join(f"{k}: {v}" for k, v in r["errors"].kinds.items())),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"load: {r['sessions']} run-mode readers, one notebook (slider + dependent cell), 2-core machine, "
          f"{'batched frames (as the page)' if r['batch'] else 'one frame per message (--no-batch)'}, "
          f"load average {' '.join(f'{x:.2f}' for x in r['load'])}")
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>16}  {note}")


def main(argv: list[str] | None = None) -> int:
    """Run the load benchmark and print its table; exit status 1 if any error was seen."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks load")
    parser.add_argument("--sessions", type=int, default=1000, help="concurrent readers (default 1000)")
    parser.add_argument("--active", type=int, default=50, help="readers moving sliders in the first phase (default 50)")
    parser.add_argument("--moves", type=int, default=20, help="moves per active reader (default 20; a quarter of it with all)")
    parser.add_argument("--parallel", type=int, default=25, help="connections opened at a time (default 25)")
    parser.add_argument("--no-batch", action="store_true",
                        help="do not ask for batched 'frames' messages (the page asks for them)")
    args = parser.parse_args(sys.argv[2:] if argv is None else argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.sessions + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.sessions + 1000), hard))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    result = asyncio.run(run(args.sessions, args.active, args.moves, args.parallel, batch=not args.no_batch))
    report(result)
    return 1 if result["errors"].total else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
