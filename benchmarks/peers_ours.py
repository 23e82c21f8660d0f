"""Our side of ``python -m benchmarks peers``: ``python -m benchmarks.peers_ours SCENARIO RUNS``
prints one JSON object (samples in seconds) on its last stdout line.  The kernel runs on the
same CPython as the peer (:func:`benchmarks.peers_venv.kernel_python`) through ``KernelClient``
(ZeroMQ, fd-level console, shared-memory virtual files), with the same cells as
:mod:`benchmarks.peers_marimo`."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from benchmarks.peers_venv import kernel_python
from lifecycle import protocol
from lifecycle.kernel_lifecycle import KernelArgs
from subprocess_host.client import KernelClient

HTML_CODE = "class Big:\n    def _repr_html_(self):\n        return '<p>' + 'x' * 9_999_993 + '</p>'\nBig()"
PRINT_CODE = "for i in range(20000):\n    print(i)"
SLIDER_CELLS = {"s": "from lifecycle import ui\ns = ui.slider(0, 10_000)\ns", "dep": "seen = s.value\nf'seen={seen};'"}


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Kernel:
    def __init__(self) -> None:
        self.client = KernelClient(
            KernelArgs(console="fd", virtual_files="shared_memory", install_main=True, output_max_bytes=20_000_000),
            python=str(kernel_python()),
        )
        self.seen: list[Any] = []
        self.event = asyncio.Event()
        self.client.on_notification(self._on)

    def _on(self, note: Any, frame: bytes) -> None:
        self.seen.append(note)
        if isinstance(note, protocol.CompletedRun):
            self.event.set()

    async def start(self) -> float:
        t0 = time.perf_counter()
        self.t0 = t0
        await self.client.start()
        await self.client.wait_ready(60)
        return time.perf_counter() - t0

    async def run(self, cells: dict[str, str]) -> float:
        self.event.clear()
        self.seen = []
        t0 = time.perf_counter()
        await self.client.send(protocol.ExecuteCells(cell_ids=list(cells), codes=list(cells.values())))
        await asyncio.wait_for(self.event.wait(), 120)
        return time.perf_counter() - t0

    async def stop(self) -> float:
        process = self.client.process
        assert process is not None and self.client.transport is not None
        t0 = time.perf_counter()
        await self.client.transport.send("control", protocol.encode(protocol.Stop()))
        self.client._stopping = True
        await process.wait()
        elapsed = time.perf_counter() - t0
        await self.client.shutdown()
        return elapsed


async def startup(runs: int) -> dict[str, Any]:
    out: dict[str, list[float]] = {"ready": [], "first": [], "rss": [], "stop": []}
    for _ in range(runs):
        k = Kernel()
        out["ready"].append(await k.start())
        assert k.client.pid is not None
        out["rss"].append(_rss_mib(k.client.pid))
        await k.run({"a": "x = 1"})
        out["first"].append(time.perf_counter() - k.t0)
        out["stop"].append(await k.stop())
    return out


async def steady(scenario: str, runs: int) -> dict[str, Any]:
    k = Kernel()
    await k.start()
    try:
        await k.run({"a": "x = 1"})
        if scenario == "rerun":
            for _ in range(50):
                await k.run({"a": "x = 1"})
            return {"samples": [await k.run({"a": "x = 1"}) for _ in range(runs)]}
        if scenario == "prints":
            samples = []
            for _ in range(runs):
                samples.append(await k.run({"p": PRINT_CODE}))
                text = "".join(n.text for n in k.seen if isinstance(n, protocol.CellConsole))
                if not text.endswith("19999\n"):
                    raise RuntimeError("the last printed line did not arrive")
            return {"samples": samples}
        if scenario == "html":
            samples = []
            for _ in range(runs):
                samples.append(await k.run({"h": HTML_CODE}))
                sizes = [len(n.data.get("text/html", "")) for n in k.seen if isinstance(n, protocol.CellOutput)]
                if not sizes or max(sizes) < 10_000_000:
                    raise RuntimeError("the 10 MB output did not arrive")
            return {"samples": samples}
        if scenario == "slider":
            return await slider(k, runs)
        raise ValueError(scenario)
    finally:
        await k.stop()


async def slider(k: Kernel, runs: int) -> dict[str, Any]:
    await k.run(SLIDER_CELLS)
    element = next(n.data["application/vnd.amphikernel.ui+json"]["id"] for n in k.seen
                   if isinstance(n, protocol.CellOutput) and "application/vnd.amphikernel.ui+json" in n.data)
    samples, executions = [], []
    base = 0
    for _ in range(runs):
        k.seen = []
        last = f"seen={base + 1000};"
        t0 = time.perf_counter()
        for v in range(1, 1001):
            await k.client.send(protocol.UpdateUIElement(values={element: base + v}))
        while not any(isinstance(n, protocol.CellOutput) and n.cell_id == "dep" and last in n.data.get("text/plain", "")
                      for n in k.seen[-20:]):
            await asyncio.sleep(0.0005)
        samples.append(time.perf_counter() - t0)
        executions.append(sum(1 for n in k.seen if isinstance(n, protocol.CellStatus) and n.cell_id == "dep" and n.status == "running"))
        base += 1000
    return {"samples": samples, "executions": executions}


def main() -> None:
    scenario, runs = sys.argv[1], int(sys.argv[2])
    result = asyncio.run(startup(runs) if scenario == "startup" else steady(scenario, runs))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
