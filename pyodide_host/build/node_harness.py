"""Drive ``pyodide_host/node/harness.mjs`` (Pyodide under Node) from CPython: tests, benchmarks
and conformance runs use this to run notebooks in Pyodide.

::

    dist = ensure_dist()
    with NodeHarness(dist) as h:
        h.wait_ready()
        notes = h.execute({"a": "x = 1", "b": "x + 1"})

One process can run many notebooks, each in a fresh kernel of a process brought back to the
state it had before the first one (``pyodide_host/node/isolation.py``: modules, module and
class globals, ``os.environ``, working directory, recursion limit, logging, signal handlers,
files, pending tasks...)::

    with NodeHarness(dist) as h:
        h.wait_ready()
        for nb in notebooks:
            result = h.run_notebook(nb, cwd=scratch_dir)   # StateLeakError: use a new process

Frames on the pipe are ``[u32 big-endian length][u8 channel][payload]``: channel 0 carries
kernel msgpack frames unchanged, channel 1 JSON control messages (see the harness script).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lifecycle import protocol

__all__ = [
    "HARNESS_SCRIPT",
    "ISOLATION_SCRIPT",
    "HarnessError",
    "NodeHarness",
    "PyodideRunResult",
    "StateLeakError",
    "node_executable",
    "run_notebook",
    "run_notebook_async",
]

HARNESS_SCRIPT = Path(__file__).resolve().parents[1] / "node" / "harness.mjs"
ISOLATION_SCRIPT = Path(__file__).resolve().parents[1] / "node" / "isolation.py"
"""Run inside Pyodide as the module ``_amphi_isolation`` (:meth:`NodeHarness.reset`)."""
_ISOLATION = "__import__('sys').modules['_amphi_isolation']"
JSPI_FLAG = "--experimental-wasm-stack-switching"
"""Node 20's flag for WebAssembly stack switching (JSPI): lets ``loop.run_until_complete`` work
inside Pyodide (pytest-asyncio in the in-Pyodide test run)."""

CH_KERNEL = 0
CH_CONTROL = 1


class HarnessError(RuntimeError):
    """The harness failed, exited, or did not answer in time."""


class StateLeakError(HarnessError):
    """:meth:`NodeHarness.reset` could not bring the process back to its baseline: the
    process must not run another notebook (start a new one).  ``residue`` says what differs."""

    def __init__(self, residue: list[str], changed: list[str]) -> None:
        super().__init__("the previous notebook left state that cannot be reset: " + "; ".join(residue))
        self.residue = residue
        self.changed = changed


def node_executable() -> str | None:
    """The ``node`` on PATH (``AMPHI_NODE`` overrides), or ``None``."""
    return os.environ.get("AMPHI_NODE") or shutil.which("node")


class NodeHarness:
    """A Node process running Pyodide with a kernel session.

    Args:
        dist: the dist directory (:func:`pyodide_host.build.ensure_dist`).
        options: extra harness options (``--no-session``, ``--stdin-answer TEXT``, ...).
        jspi: enable WebAssembly stack switching (needed for ``run_until_complete``).
        node: the node executable (default :func:`node_executable`).
    """

    def __init__(
        self,
        dist: str | os.PathLike[str],
        options: Sequence[str] = (),
        *,
        jspi: bool = False,
        node: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        node = node or node_executable()
        if node is None:
            raise HarnessError("node is not installed (needed to run Pyodide)")
        cmd = [node, *([JSPI_FLAG] if jspi else []), str(HARNESS_SCRIPT), "--dist", str(dist), *options]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
        )
        self.notifications: list[Any] = []
        self.frames: list[bytes] = []
        self.frame_times: list[float] = []
        self.events: list[dict[str, Any]] = []
        self.stderr_lines: list[str] = []
        self._replies: dict[int, dict[str, Any]] = {}
        self._ids = 0
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._closed = False
        self._isolation_loaded = False
        self._reader = threading.Thread(target=self._read, name="node-harness-reader", daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_stderr, name="node-harness-stderr", daemon=True)
        self._err_reader.start()

    # ------------------------------------------------------------------ reading
    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        try:
            while True:
                header = stream.read(5)
                if len(header) < 5:
                    break
                length, channel = struct.unpack(">IB", header)
                payload = stream.read(length - 1) if length > 1 else b""
                if len(payload) < length - 1:
                    break  # the process died in the middle of a frame: end of stream, not a frame
                now = time.perf_counter()
                if channel == CH_KERNEL:
                    note = protocol.decode_notification(payload)
                    with self._cond:
                        self.frames.append(payload)
                        self.frame_times.append(now)
                        self.notifications.append(note)
                        self._cond.notify_all()
                else:
                    message = json.loads(payload)
                    with self._cond:
                        if "event" in message:
                            message["at"] = now
                            self.events.append(message)
                        else:
                            self._replies[message.get("id")] = message
                        self._cond.notify_all()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def _read_stderr(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.stderr_lines.append(line)
            if os.environ.get("AMPHI_HARNESS_ECHO"):
                print(f"[node] {line}", flush=True)

    def stderr_tail(self, lines: int = 30) -> str:
        with self._cond:
            return "\n".join(self.stderr_lines[-lines:])

    def _wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = check()
                if value is not None:
                    return value
                fatal = next((e for e in self.events if e.get("event") == "fatal"), None)
                if fatal is not None:
                    raise HarnessError(f"harness failed: {fatal.get('error')}")
                if self._closed:
                    raise HarnessError(f"harness exited (code {self.proc.poll()}) while waiting for {what}:\n{self.stderr_tail()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HarnessError(f"timed out after {timeout:g} s waiting for {what}:\n{self.stderr_tail()}")
                self._cond.wait(remaining)

    # ------------------------------------------------------------------ writing
    def _write(self, channel: int, payload: bytes) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        with self._write_lock:
            stdin.write(struct.pack(">IB", len(payload) + 1, channel) + payload)
            stdin.flush()

    def send_frame(self, frame: bytes) -> None:
        """Hand one msgpack frame to the session (``handle_frame``)."""
        self._write(CH_KERNEL, bytes(frame))

    def send(self, command: Any) -> None:
        """Encode and send one command."""
        self.send_frame(protocol.encode(command))

    def control(self, op: str, timeout: float = 60, **fields: Any) -> dict[str, Any]:
        """Send a control message and wait for its reply.

        Raises:
            HarnessError: the reply says it failed, or none came in time.
        """
        self._ids += 1
        ident = self._ids
        self._write(CH_CONTROL, json.dumps({"op": op, "id": ident, **fields}).encode())
        reply = self._wait(lambda: self._replies.pop(ident, None), timeout, f"the reply to {op!r}")
        if not reply.get("ok"):
            raise HarnessError(f"{op} failed: {reply.get('error')}")
        return reply

    def exec(self, code: str, timeout: float = 60) -> str | None:
        """Run Python code in Pyodide (``runPythonAsync``); returns ``str`` of its value."""
        return self.control("exec", timeout=timeout, code=code).get("result")

    # ------------------------------------------------------------------ session helpers
    def wait_ready(self, timeout: float = 60) -> dict[str, Any]:
        """Wait for the ``booted`` event; returns its timings."""
        event = self._wait(
            lambda: next((e for e in self.events if e.get("event") == "booted"), None), timeout, "the harness to boot"
        )
        return event.get("timings", {})

    def mark(self) -> int:
        with self._cond:
            return len(self.notifications)

    def since(self, mark: int) -> list[Any]:
        with self._cond:
            return self.notifications[mark:]

    def wait_for(self, predicate: Callable[[Any], bool], since: int = 0, timeout: float = 30) -> Any:
        """The first notification from ``since`` on matching ``predicate`` (waits for it)."""

        def check() -> Any:
            for note in self.notifications[since:]:
                if predicate(note):
                    return note
            return None

        return self._wait(check, timeout, "a matching notification")

    def request(self, command: Any, timeout: float = 30) -> list[Any]:
        """Send a command; its notifications up to and including ``completed-run``."""
        mark = self.mark()
        self.send(command)
        self.wait_for(lambda n: isinstance(n, protocol.CompletedRun), mark, timeout)
        return self.since(mark)

    def execute(self, cells: dict[str, str], order: list[str] | None = None, timeout: float = 30) -> list[Any]:
        return self.request(
            protocol.ExecuteCells(cell_ids=list(cells), codes=list(cells.values()), order=order), timeout
        )

    # ------------------------------------------------------------------ fresh kernels
    def reset(self, cwd: str | os.PathLike[str] | None = None, timeout: float = 60) -> list[str]:
        """Stop the session's kernel and bring the process back to its baseline (the state
        at the first call, before any notebook ran); then mount the host directory ``cwd`` at
        the same path (files the cells write land in it) and make it the working directory.
        Start a kernel with :meth:`start_kernel`.

        Returns what the previous notebook had changed (all of it was put back).

        Raises:
            StateLeakError: something could not be put back: do not reuse this process.
        """
        if not self._isolation_loaded:
            source = ISOLATION_SCRIPT.read_text(encoding="utf-8")
            self.exec(
                f"exec(compile({source!r}, {str(ISOLATION_SCRIPT)!r}, 'exec'), __import__('sys').modules.setdefault("
                "'_amphi_isolation', __import__('types').ModuleType('_amphi_isolation')).__dict__)",
                timeout,
            )
            self._isolation_loaded = True
        where = str(Path(cwd).resolve()) if cwd is not None else None
        report = json.loads(self.exec(f"await {_ISOLATION}.fresh_kernel({where!r})", timeout) or "{}")
        if report.get("residue"):
            raise StateLeakError(list(report["residue"]), list(report.get("changed", [])))
        return list(report.get("changed", []))

    def start_kernel(self, timeout: float = 60) -> int:
        """Start a kernel after :meth:`reset`; returns the :meth:`mark` before its
        ``kernel-ready`` (which has arrived when this returns)."""
        mark = self.mark()
        self.exec(f"{_ISOLATION}.start_kernel()", timeout)
        self.wait_for(lambda n: isinstance(n, protocol.KernelReady), mark, timeout)
        return mark

    def run_notebook(
        self, nb: Any, *, cwd: str | os.PathLike[str] | None = None, timeout: float = 600
    ) -> PyodideRunResult:
        """Run every code cell of ``nb`` top to bottom in a fresh kernel of this process
        (:meth:`reset`, :meth:`start_kernel`) and collect the outputs.

        Args:
            nb: a :class:`lifecycle.notebook.Notebook` (its semantics are applied with
                ``set-config``); code cells get their outputs filled in.
            cwd: host directory mounted at the same path and used as working directory
                (default: Pyodide's home directory).
            timeout: seconds for the reset and the whole run.

        Raises:
            StateLeakError: the process could not be reset (nothing ran; use a new process).
            HarnessError: the harness failed or the run timed out.
        """
        from lifecycle.outputs import OutputCollector

        started = time.perf_counter()
        deadline = time.monotonic() + timeout

        def remaining() -> float:
            return max(1.0, deadline - time.monotonic())

        changed = self.reset(cwd, remaining())
        mark = self.start_kernel(remaining())
        code_cells = [c for c in nb.cells if c.kind == "code"]
        self.send(protocol.SetConfig(semantics=nb.semantics))
        if code_cells:
            ids = [c.id for c in code_cells]
            self.send(protocol.ExecuteCells(cell_ids=ids, codes=[c.source for c in code_cells], order=ids))
            self.wait_for(lambda n: isinstance(n, protocol.CompletedRun), mark, remaining())
        collector = OutputCollector()
        for note in self.since(mark):
            collector.add(note)
        failed: list[str] = []
        for cell in code_cells:
            record = collector.cells.get(cell.id)
            cell.outputs = list(record.outputs) if record else []
            cell.execution_count = record.execution_count if record else None
            if record is not None and (record.errored or record.status == "errored-ancestor"):
                failed.append(cell.id)
        return PyodideRunResult(
            nb, failed, [e.message for e in collector.kernel_errors], time.perf_counter() - started, changed
        )

    # ------------------------------------------------------------------ shutdown
    def close(self, timeout: float = 10) -> int | None:
        """Ask the harness to quit (then terminate it); returns its exit code."""
        if self.proc.poll() is None:
            try:
                self._write(CH_CONTROL, json.dumps({"op": "quit"}).encode())
                self.proc.stdin.close()  # type: ignore[union-attr]
            except (BrokenPipeError, OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._reader.join(timeout)
        return self.proc.returncode

    def __enter__(self) -> NodeHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------- notebooks


@dataclass
class PyodideRunResult:
    """A notebook run top to bottom in Pyodide (like ``subprocess_host.headless.ExecutionResult``):
    the notebook with outputs filled in, the cells that failed, ``kernel-error`` messages, and
    the seconds from spawning Node to the end of the run."""

    notebook: Any
    failed_cells: list[str] = field(default_factory=list)
    kernel_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reset: list[str] = field(default_factory=list)
    """What the previous notebook of the process had changed and was put back
    (:meth:`NodeHarness.reset`)."""


def run_notebook(
    nb: Any,
    *,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 600,
    dist: str | os.PathLike[str] | None = None,
) -> PyodideRunResult:
    """Run every code cell of ``nb`` (a :class:`lifecycle.notebook.Notebook`) in a fresh
    Pyodide process under Node, in notebook order, and collect the outputs
    (:meth:`NodeHarness.run_notebook` in a new harness; to run many notebooks, reuse one).

    Args:
        nb: the notebook (its semantics are applied with ``set-config``).
        cwd: working directory inside Pyodide: this host directory, mounted at the same path
            (files the cells write land in it).  Default: Pyodide's own home directory.
        timeout: seconds for the whole run (boot included).
        dist: the dist directory (default: :func:`pyodide_host.build.ensure_dist`).

    Raises:
        HarnessError: Node is missing, Pyodide did not boot, or the run timed out.
    """
    if dist is None:
        from pyodide_host.build.dist import ensure_dist

        dist = ensure_dist(quiet=True)
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    with NodeHarness(dist) as harness:
        harness.wait_ready(max(1.0, deadline - time.monotonic()))
        result = harness.run_notebook(nb, cwd=cwd, timeout=max(1.0, deadline - time.monotonic()))
    result.seconds = time.perf_counter() - started
    return result


async def run_notebook_async(nb: Any, **kwargs: Any) -> PyodideRunResult:
    """:func:`run_notebook` in a worker thread (for asyncio callers such as the conformance
    runners)."""
    return await asyncio.to_thread(run_notebook, nb, **kwargs)
