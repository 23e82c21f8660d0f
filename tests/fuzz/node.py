"""Fuzz the Pyodide worker's message entry point (``session.handle_frame``) under Node.

``pyodide_host/node/harness.mjs`` hands every frame it reads to ``session.handle_frame``
exactly as the page's Web Worker does (``web/src/worker/pyodide-worker.ts``); an exception
escaping it would end the harness, as it would lose the worker's frame.  Frames are the kernel
commands plus the host-level messages the worker answers itself (``save-notebook`` bodies),
mutated byte by byte; valid frames that would rewrite the kernel (``execute-cells``...,
``restart-kernel``) are not sent.  Afterwards a real cell must run and the session must have
counted every bad frame.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lifecycle import protocol
from pyodide_host.build.node_harness import NodeHarness
from pyodide_host.frames import HOST_TYPES, peek
from tests.fuzz import corpus
from tests.fuzz.kernel import Classifier
from tests.fuzz.report import SEED, FuzzReport, MemoryWatch, Stopwatch
from tests.fuzz.server import HOST_AND_KERNEL

LIVENESS_TIMEOUT = 120.0


def _verdict(classifier: Classifier, frame: bytes) -> str:
    if protocol.nested_too_deep(frame):
        return "bad"  # refused in Pyodide (the WebAssembly stack would overflow)
    head = peek(frame)
    if head is not None and isinstance(head.type, str) and head.type in HOST_TYPES:
        return "send" if head.type == "save-notebook" else "skip"
    return classifier.classify(frame)


def _bad_number(note: Any) -> int | None:
    if isinstance(note, protocol.KernelError) and "(bad frame " in note.detail:
        return int(note.detail.rsplit("(bad frame ", 1)[1].split(")")[0].split(";")[0])
    return None


def fuzz_worker(dist: Path, cases: int, seed: int = SEED, base_count: int = 600) -> FuzzReport:
    """Send ``cases`` fuzz frames to one Pyodide session under Node."""
    base = corpus.drawn_frames(HOST_AND_KERNEL, base_count, seed)  # restart-kernel frames: skipped
    report = FuzzReport("pyodide-worker")
    harness = NodeHarness(dist)
    try:
        harness.wait_ready(180)
        harness.wait_for(lambda n: isinstance(n, protocol.KernelReady), timeout=120)
        assert harness.execute({"warm": "1 + 1"}, timeout=LIVENESS_TIMEOUT)
        classifier = Classifier()
        with MemoryWatch(harness.proc.pid) as memory, Stopwatch() as clock:
            for kind, frame in corpus.frames(cases * 2, base, seed=seed + 11):
                if report.cases >= cases:
                    break
                what = _verdict(classifier, frame)
                if what == "skip":
                    continue
                report.cases += 1
                report.kinds[kind] += 1
                report.bad += what == "bad"
                harness.send_frame(frame)
                if harness.proc.poll() is not None:
                    break
            if harness.proc.poll() is not None:
                report.crashes += 1
            else:
                try:
                    notes = harness.execute({"live": "6 * 7"}, timeout=LIVENESS_TIMEOUT)
                    ok = any(isinstance(n, protocol.CellOutput) and n.data.get("text/plain") == "42" for n in notes)
                except Exception as exc:  # HarnessError: timed out or exited
                    report.notes["liveness_error"] = str(exc)[:300]
                    ok = False
                if not ok:
                    report.hangs += 1
        report.seconds = clock.seconds
        memory.fill(report)
        if harness.proc.poll() is None:
            time.sleep(1.0)  # the report bucket refills
            mark = harness.mark()
            harness.send_frame(b"\xc1")
            note = harness.wait_for(lambda n: _bad_number(n) is not None, mark, timeout=60)
            report.notes["kernel_total"] = _bad_number(note)
        report.notes["expected_total"] = report.bad + 1
        report.notes["error_notifications"] = sum(isinstance(n, protocol.KernelError) for n in harness.notifications)
        report.notes["bad_frame_reports"] = sum(_bad_number(n) is not None for n in harness.notifications)
        report.notes["stderr_tracebacks"] = sum("Traceback" in line for line in harness.stderr_lines)
    finally:
        code = harness.close()
        report.notes["exit_code"] = code
    return report
