"""The marimo side of ``python -m benchmarks peers``: run inside the peer venv
(:mod:`benchmarks.peers_venv`) as ``python peers_marimo.py SCENARIO RUNS``; prints one JSON
object (samples in seconds) on its last stdout line.

It drives marimo's subprocess kernel through marimo's public IPC entry points only: the host
side ``marimo._ipc.QueueManager.create()`` / ``marimo._ipc.KernelArgs`` and the kernel process
``python -m marimo._ipc.launch_kernel`` (launch arguments as JSON on stdin, a ``KERNEL_READY``
line on stdout when it serves).  Commands are marimo's ``msgspec`` command structs put on the
control / UI-element queues; notifications are JSON objects with an ``op`` field read from the
stream queue.  This file imports nothing from amphikernel (the peer venv does not have it).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import subprocess
import sys
import time
from typing import Any

TIMEOUT = 120.0
os.environ["MARIMO_OUTPUT_MAX_BYTES"] = "20000000"  # read when marimo's default config is built
HTML_CODE = "class Big:\n    def _repr_html_(self):\n        return '<p>' + 'x' * 9_999_993 + '</p>'\nBig()"
PRINT_CODE = "for i in range(20000):\n    print(i)"
SLIDER_CELLS = {"s": "import marimo as mo\ns = mo.ui.slider(0, 10_000)\ns", "dep": "seen = s.value\nf'seen={seen};'"}


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Kernel:
    """One marimo IPC kernel subprocess and its host-side queues."""

    def __init__(self) -> None:
        from marimo._ast.app_config import _AppConfig
        from marimo._config.config import DEFAULT_CONFIG
        from marimo._ipc import KernelArgs, QueueManager
        from marimo._runtime.commands import AppMetadata

        self.t0 = time.perf_counter()
        self.queues, info = QueueManager.create()
        args = KernelArgs(
            configs={},
            app_metadata=AppMetadata(query_params={}, cli_args={}, app_config=_AppConfig()),
            user_config=DEFAULT_CONFIG,
            log_level=logging.WARNING,
            profile_path=None,
            connection_info=info,
            parent_pid=os.getpid(),
        )
        env = dict(os.environ)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "marimo._ipc.launch_kernel"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        )  # fmt: skip
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(args.encode_json())
        self.process.stdin.close()
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("marimo kernel exited before KERNEL_READY")
            if line.startswith(b"KERNEL_READY"):
                break
        self.ready = time.perf_counter() - self.t0

    def execute(self, cells: dict[str, str]) -> None:
        from marimo._runtime.commands import ExecuteCellsCommand

        self.queues.control_queue.put(ExecuteCellsCommand(cell_ids=list(cells), codes=list(cells.values())))

    def update_ui(self, element_id: str, value: Any) -> None:
        from marimo._runtime.commands import UpdateUIElementCommand

        # marimo's routing rule for UI updates: the control queue (ordering) and the UI-element
        # queue (the kernel merges what is waiting there).
        command = UpdateUIElementCommand(object_ids=[element_id], values=[value])
        self.queues.control_queue.put(command)
        self.queues.set_ui_element_queue.put(command)

    def next(self) -> tuple[str, bytes]:
        raw = self.queues.stream_queue.get(timeout=TIMEOUT)
        data = bytes(raw)
        match = re.search(rb'"op":"([a-z-]+)"', data[:64])
        return (match.group(1).decode() if match else ""), data

    def until_completed(self) -> list[tuple[str, bytes]]:
        seen = []
        while True:
            op, data = self.next()
            seen.append((op, data))
            if op == "completed-run":
                return seen

    def run(self, cells: dict[str, str]) -> tuple[float, list[tuple[str, bytes]]]:
        t0 = time.perf_counter()
        self.execute(cells)
        seen = self.until_completed()
        return time.perf_counter() - t0, seen

    def stop(self) -> float:
        from marimo._runtime.commands import StopKernelCommand

        t0 = time.perf_counter()
        self.queues.control_queue.put(StopKernelCommand())
        self.process.wait(30)
        elapsed = time.perf_counter() - t0
        self.queues.close_queues()
        return elapsed

    def drain(self) -> None:
        try:
            while True:
                self.queues.stream_queue.get_nowait()
        except queue.Empty:
            pass


def startup(runs: int) -> dict[str, Any]:
    out: dict[str, list[float]] = {"ready": [], "first": [], "rss": [], "stop": []}
    for _ in range(runs):
        k = Kernel()
        out["ready"].append(k.ready)
        out["rss"].append(_rss_mib(k.process.pid))
        k.run({"a": "x = 1"})
        out["first"].append(time.perf_counter() - k.t0)
        out["stop"].append(k.stop())
    return out


def steady(scenario: str, runs: int) -> dict[str, Any]:
    k = Kernel()
    try:
        k.run({"a": "x = 1"})
        if scenario == "rerun":
            for _ in range(50):
                k.run({"a": "x = 1"})
            return {"samples": [k.run({"a": "x = 1"})[0] for _ in range(runs)]}
        if scenario == "prints":
            samples, messages = [], []
            for _ in range(runs):
                elapsed, seen = k.run({"p": PRINT_CODE})
                samples.append(elapsed)
                text = b"".join(d for op, d in seen if op == "cell-op")
                if b"19999" not in text:
                    raise RuntimeError("marimo: the last printed line did not arrive")
                messages.append(sum(1 for op, d in seen if op == "cell-op" and b'"console"' in d))
            return {"samples": samples, "messages": messages}
        if scenario == "html":
            samples = []
            for _ in range(runs):
                elapsed, seen = k.run({"h": HTML_CODE})
                if max(len(d) for op, d in seen) < 10_000_000:
                    raise RuntimeError("marimo: the 10 MB output did not arrive")
                samples.append(elapsed)
            return {"samples": samples}
        if scenario == "slider":
            return slider(k, runs)
        raise ValueError(scenario)
    finally:
        k.stop()


def slider(k: Kernel, runs: int) -> dict[str, Any]:
    _, seen = k.run(SLIDER_CELLS)
    html = b"".join(d for op, d in seen)
    match = re.search(rb"object-id=(?:\\u0027|'|&#x27;|\\\")([^'\"&\\]+)", html)
    if match is None:
        raise RuntimeError("marimo: no slider element id in the output")
    element = match.group(1).decode()
    samples, executions = [], []
    base = 0
    for _ in range(runs):
        k.drain()
        t0 = time.perf_counter()
        for v in range(1, 1001):
            k.update_ui(element, base + v)
        last = f"seen={base + 1000};".encode()
        ran = 0
        while True:
            op, data = k.next()
            if op == "cell-op" and data.startswith(b'{"op":"cell-op","cell_id":"dep"'):
                if b'"status":"running"' in data:
                    ran += 1
                if last in data:
                    break
        samples.append(time.perf_counter() - t0)
        executions.append(ran)
        base += 1000
    return {"samples": samples, "executions": executions}


def main() -> None:
    scenario, runs = sys.argv[1], int(sys.argv[2])
    result = startup(runs) if scenario == "startup" else steady(scenario, runs)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
