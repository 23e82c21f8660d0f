"""Console capture (``lifecycle.streams``) in its three modes, with real streams, threads and
file descriptors.  C-level and child-process capture of fd mode runs in a subprocess, where
no test runner owns descriptors 1 and 2."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle import streams
from lifecycle.streams import Console, create_console, thread_local
from tests.lifecycle.harness import IN_PYODIDE, needs_subprocess, needs_threads

pytestmark = pytest.mark.timeout(60)

MODES = ["replace"] if IN_PYODIDE else ["fd", "replace", "thread-local"]
"""Pyodide has no threads: only replace mode (its own mode) runs there."""
REPO = Path(__file__).resolve().parents[2]
LINES = "".join(f"{i}\n" for i in range(20_000))


class Recorder:
    """A thread-safe sink recording ``(cell_id, stream, text, monotonic time)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, float]] = []
        self._lock = threading.Lock()

    def __call__(self, cell_id: str, stream: str, text: str) -> None:
        with self._lock:
            self.calls.append((cell_id, stream, text, time.monotonic()))

    def snapshot(self) -> list[tuple[str, str, str, float]]:
        with self._lock:
            return list(self.calls)

    def text(self, stream: str | None = None, cell_id: str | None = None) -> str:
        return "".join(
            text
            for cid, name, text, _ in self.snapshot()
            if (stream is None or name == stream) and (cell_id is None or cid == cell_id)
        )

    def merged(self) -> list[tuple[str, str]]:
        """The delivered ``(stream, text)`` sequence with consecutive same-stream runs joined."""
        return merge((name, text) for _, name, text, _ in self.snapshot())


def merge(pairs: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, text in pairs:
        if not text:
            continue
        if out and out[-1][0] == name:
            out[-1] = (name, out[-1][1] + text)
        else:
            out.append((name, text))
    return out


def wait_until(predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.001)
    return predicate()


def fd_identity(fd: int) -> tuple[int, int, int]:
    info = os.fstat(fd)
    return (info.st_dev, info.st_ino, info.st_mode)


@pytest.fixture(autouse=True)
def everything_restored() -> Iterator[None]:
    """Every test must leave streams, descriptors and the Thread.start hook as they were."""
    before = (sys.stdout, sys.stderr, threading.Thread.start, fd_identity(1), fd_identity(2))
    yield
    after = (sys.stdout, sys.stderr, threading.Thread.start, fd_identity(1), fd_identity(2))
    assert after == before
    assert thread_local._install_count == 0


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


MakeConsole = Callable[..., Console]


@pytest.fixture
def make_console() -> Iterator[MakeConsole]:
    created: list[Console] = []

    def make(mode: str, sink: Any, **options: Any) -> Console:
        console = create_console(mode, sink, **options)  # type: ignore[arg-type]
        created.append(console)
        return console

    yield make
    for console in created:
        console.close()


# ------------------------------------------------------------------------ every mode


@pytest.mark.parametrize("mode", MODES)
def test_stdout_and_stderr_keep_their_relative_order(
    mode: str, recorder: Recorder, make_console: MakeConsole
) -> None:
    console = make_console(mode, recorder)
    console.start_cell("c1")
    print("out 1")
    sys.stderr.write("err 1\n")
    print("out 2", end="")
    print(" and more")
    print("err 2", file=sys.stderr)
    sys.stdout.writelines(["out 3\n", "out 4\n"])
    console.end_cell()

    assert recorder.merged() == [
        ("stdout", "out 1\n"),
        ("stderr", "err 1\n"),
        ("stdout", "out 2 and more\n"),
        ("stderr", "err 2\n"),
        ("stdout", "out 3\nout 4\n"),
    ]
    assert {cid for cid, *_ in recorder.calls} == {"c1"}


@pytest.mark.parametrize("mode", MODES)
def test_twenty_thousand_lines_arrive_exactly_in_few_messages(
    mode: str, recorder: Recorder, make_console: MakeConsole
) -> None:
    console = make_console(mode, recorder)
    console.start_cell("warm-up")
    print("warm-up")
    console.end_cell()
    recorder.calls.clear()

    console.start_cell("c1")
    for i in range(20_000):
        print(i)
    ended_at = time.monotonic()
    console.end_cell()

    assert recorder.text() == LINES
    assert recorder.text("stderr") == ""
    assert 1 <= len(recorder.calls) <= 20
    assert recorder.calls[0][3] <= ended_at  # the first message left while the cell ran
    # (how fast: `python -m benchmarks core`; timings are not pass/fail here)


@pytest.mark.parametrize("mode", MODES)
def test_first_write_is_delivered_at_once_while_the_cell_runs(
    mode: str, recorder: Recorder, make_console: MakeConsole
) -> None:
    console = make_console(mode, recorder)
    console.start_cell("c1")
    print("hello")
    time.sleep(0.2)
    assert recorder.text().startswith("hello")  # delivered while the cell still runs
    print("world")
    console.end_cell()
    assert recorder.text() == "hello\nworld\n"


@pytest.mark.skipif(IN_PYODIDE, reason="time.sleep() in Pyodide yields to the JavaScript event loop (>= 10 ms a call): too few lines")
@pytest.mark.parametrize("mode", MODES)
def test_a_cell_that_keeps_printing_is_delivered_in_growing_batches(
    mode: str, recorder: Recorder, make_console: MakeConsole
) -> None:
    console = make_console(mode, recorder)
    console.start_cell("c1")
    expected = []
    deadline = time.monotonic() + 0.6
    i = 0
    while time.monotonic() < deadline:
        print(f"line {i}")
        expected.append(f"line {i}\n")
        i += 1
        time.sleep(0.002)
    during = len(recorder.snapshot())
    console.end_cell()

    assert recorder.text() == "".join(expected)
    assert i > 100
    assert 3 <= during <= 12  # delivered while running, far fewer messages than lines
    gaps = [b[3] - a[3] for a, b in zip(recorder.calls, recorder.calls[1:])]
    assert max(gaps) > 0.1  # the interval grew beyond its 20 ms start


@pytest.mark.parametrize("mode", MODES)
def test_a_large_burst_is_delivered_by_size(
    mode: str, recorder: Recorder, make_console: MakeConsole
) -> None:
    console = make_console(mode, recorder, flush_bytes=64 * 1024)
    chunk = "x" * 16 * 1024
    console.start_cell("c1")
    for _ in range(64):  # 1 MiB in 16 KiB writes, far faster than the flush interval
        sys.stdout.write(chunk)
    during = len(recorder.snapshot())
    console.end_cell()

    assert recorder.text() == chunk * 64
    assert during >= 8
    assert max(len(text) for _, _, text, _ in recorder.calls) <= 64 * 1024 + len(chunk)


@pytest.mark.parametrize("mode", MODES)
def test_end_cell_delivers_everything_then_capture_stops(
    mode: str, recorder: Recorder, capsys: pytest.CaptureFixture[str], make_console: MakeConsole
) -> None:
    console = make_console(mode, recorder)
    console.start_cell("c1")
    for i in range(100):
        print(i)
        sys.stderr.write(f"e{i}\n")
    console.end_cell()
    delivered = recorder.text()
    print("after the cell")
    sys.stderr.write("stderr after the cell\n")

    assert delivered.count("\n") == 200
    assert recorder.text() == delivered  # nothing more arrived
    assert console.cell_id is None
    captured = capsys.readouterr()
    assert captured.out == "after the cell\n"
    assert captured.err == "stderr after the cell\n"


@needs_threads
@pytest.mark.parametrize("mode", MODES)
def test_threads_started_by_the_cell_write_into_it(
    mode: str, recorder: Recorder, make_console: MakeConsole
) -> None:
    console = make_console(mode, recorder)
    console.start_cell("c1")
    worker = threading.Thread(target=lambda: print("from a worker thread"))
    worker.start()
    worker.join()
    console.end_cell()
    assert recorder.text("stdout", "c1") == "from a worker thread\n"


@pytest.mark.parametrize("mode", MODES)
def test_cap_truncates_with_one_notice(
    mode: str, recorder: Recorder, make_console: MakeConsole
) -> None:
    console = make_console(mode, recorder, max_bytes_per_cell=10_000)
    console.start_cell("c1")
    line = "y" * 99
    for _ in range(10_000):  # 1 MB
        print(line)
    console.end_cell()

    out, err = recorder.text("stdout"), recorder.text("stderr")
    assert out == (line + "\n") * 100  # exactly the first 10,000 bytes
    notice = (
        "[output truncated: more than 10000 bytes; the rest of this cell's output is discarded]"
    )
    assert err == notice + "\n"
    assert recorder.merged()[-1][0] == "stderr"  # the notice comes last

    console.start_cell("c2")  # the cap is per cell
    print("fresh")
    console.end_cell()
    assert recorder.text(cell_id="c2") == "fresh\n"


@pytest.mark.parametrize("mode", MODES)
def test_cap_counts_utf8_bytes_and_never_splits_a_character(
    mode: str, recorder: Recorder, make_console: MakeConsole
) -> None:
    console = make_console(mode, recorder, max_bytes_per_cell=1001)
    console.start_cell("c1")
    for _ in range(100):
        sys.stdout.write("é" * 100)  # 200 bytes per write
    console.end_cell()

    out = recorder.text("stdout")
    assert out == "é" * 500  # 1000 bytes: a 501st character would not fit
    assert "output truncated" in recorder.text("stderr")
    assert recorder.text("stderr").startswith("\n")  # the notice starts on its own line


@pytest.mark.parametrize("mode", MODES)
def test_printing_20_mb_keeps_memory_bounded(mode: str, make_console: MakeConsole) -> None:
    counts = {"stdout": 0, "stderr": 0}
    notices: list[str] = []

    def sink(cell_id: str, stream: str, text: str) -> None:
        counts[stream] += len(text)
        if stream == "stderr":
            notices.append(text)

    console = make_console(mode, sink)
    tracemalloc.start()
    try:
        console.start_cell("c1")
        for i in range(20_000):
            print(f"{i:0>999}")  # distinct 1,000-byte lines: 20 MB in all
        console.end_cell()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert counts["stdout"] == streams.DEFAULT_MAX_BYTES_PER_CELL
    assert len(notices) == 1 and "more than 5000000 bytes" in notices[0]
    assert peak < 12_000_000, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("mode", MODES)
def test_text_and_binary_writes(mode: str, recorder: Recorder, make_console: MakeConsole) -> None:
    console = make_console(mode, recorder)
    console.start_cell("c1")
    assert sys.stdout.write("héllo\n") == 6
    with pytest.raises(TypeError, match="must be str, not bytes"):
        sys.stdout.write(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sys.stdout.buffer.write("text")  # type: ignore[arg-type]
    assert sys.stdout.buffer.write(b"caf\xc3") == 4  # a character split across writes
    assert sys.stdout.buffer.write(bytearray(b"\xa9 \xff\n")) == 4  # and an invalid byte
    sys.stderr.write("lone \ud800 surrogate\n")
    sys.stderr.buffer.write(memoryview(b"dangling \xe2\x82"))
    assert sys.stdout.writable() and not sys.stdout.isatty()
    sys.stdout.flush()
    console.end_cell()

    assert recorder.merged() == [
        ("stdout", "héllo\ncafé \ufffd\n"),
        ("stderr", "lone \ufffd surrogate\ndangling \ufffd"),
    ]


@pytest.mark.parametrize("mode", MODES)
def test_start_cell_twice_ends_the_first_cell(
    mode: str, recorder: Recorder, make_console: MakeConsole
) -> None:
    console = make_console(mode, recorder)
    console.start_cell("a")
    print("in a")
    console.start_cell("b")
    print("in b")
    console.end_cell()
    assert recorder.text(cell_id="a") == "in a\n"
    assert recorder.text(cell_id="b") == "in b\n"
    assert [cid for cid, *_ in recorder.calls] == sorted(cid for cid, *_ in recorder.calls)


@pytest.mark.parametrize("mode", MODES)
def test_robust_lifecycle_calls(mode: str, recorder: Recorder, make_console: MakeConsole) -> None:
    stdout, stderr = sys.stdout, sys.stderr
    console = make_console(mode, recorder)
    console.end_cell()  # without start_cell: a no-op
    console.start_cell("c1")
    print("unfinished")
    console.close()  # during a cell: delivers and restores everything
    assert sys.stdout is stdout and sys.stderr is stderr
    assert recorder.text() == "unfinished\n"
    assert console.closed
    console.close()  # idempotent
    console.end_cell()
    with pytest.raises(RuntimeError):
        console.start_cell("c2")


@pytest.mark.parametrize("mode", MODES)
def test_a_failing_sink_is_logged_and_does_not_break_the_cell(
    mode: str, make_console: MakeConsole, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[str] = []

    def sink(cell_id: str, stream: str, text: str) -> None:
        if not received:
            received.append("<failed>")
            raise RuntimeError("frontend gone")
        received.append(text)

    console = make_console(mode, sink)
    with caplog.at_level(logging.ERROR, logger="lifecycle.streams"):
        console.start_cell("c1")
        print("first")
        time.sleep(0.1)
        print("second")
        console.end_cell()

    assert received[0] == "<failed>"
    assert "".join(received[1:]).endswith("second\n")
    assert any("sink failed" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("mode", MODES)
def test_a_sink_that_prints_does_not_loop_or_deadlock(
    mode: str, capsys: pytest.CaptureFixture[str], make_console: MakeConsole
) -> None:
    calls: list[str] = []

    def sink(cell_id: str, stream: str, text: str) -> None:
        calls.append(text)
        print(f"sink got {len(text)} characters")

    console = make_console(mode, sink)
    console.start_cell("c1")
    for i in range(3):
        print(i)
        time.sleep(0.03)
    console.end_cell()
    # Replace mode runs the sink in the cell's thread, so its prints join the cell's output.
    assert re.sub(r"sink got \d+ characters\n", "", "".join(calls)) == "0\n1\n2\n"
    assert len(calls) < 50


@settings(max_examples=40, deadline=None)
@given(
    writes=st.lists(
        st.tuples(st.sampled_from(["stdout", "stderr"]), st.text(max_size=40)), max_size=40
    )
)
def test_any_interleaving_is_delivered_in_order(writes: list[tuple[str, str]]) -> None:
    for mode in MODES:
        recorder = Recorder()
        console = create_console(mode, recorder)
        try:
            console.start_cell("c1")
            for name, text in writes:
                getattr(sys, name).write(text)
            console.end_cell()
        finally:
            console.close()
        expected = [
            (name, text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))
            for name, text in merge(writes)
        ]
        assert recorder.merged() == merge(expected), mode


def test_create_console_validates_its_arguments(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="unknown console mode"):
        create_console("telepathy", recorder)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        create_console("replace", recorder, max_bytes_per_cell=-1)
    with pytest.raises(ValueError):
        create_console("replace", recorder, flush_interval=0)
    with pytest.raises(ValueError):
        create_console("replace", recorder, flush_bytes=0)


# ------------------------------------------------------------------------ replace mode


def test_replace_mode_never_starts_a_thread(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_threads(self: threading.Thread) -> None:  # like Pyodide
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", no_threads)
    threads_before = threading.enumerate()
    console = create_console("replace", recorder)
    console.start_cell("c1")
    for i in range(20_000):
        print(i)
    time.sleep(0.05)
    print("done")
    during = len(recorder.calls)
    console.end_cell()
    console.close()

    assert threading.enumerate() == threads_before
    assert threading.active_count() == len(threads_before)
    assert during >= 2
    assert recorder.text() == LINES + "done\n"


async def test_replace_mode_delivers_trailing_output_while_an_async_cell_awaits(
    recorder: Recorder,
) -> None:
    console = create_console("replace", recorder)
    try:
        console.start_cell("c1")
        print("a")  # delivered at once (leading edge)
        print("b")  # buffered: within the flush interval
        await asyncio.sleep(0.3)  # the asyncio timer delivers it
        during = recorder.text()
        console.end_cell()
    finally:
        console.close()
    assert during == "a\nb\n"


@needs_subprocess
def test_the_module_imports_only_light_stdlib_modules() -> None:
    script = (
        "import sys; before = set(sys.modules); import lifecycle.streams; "
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in "
        "{'zmq', 'js', 'pyodide', 'asyncio', 'ctypes', 'msgspec', 'subprocess'}))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert proc.stdout.strip() == "[]"


# ------------------------------------------------------------------------ thread-local mode


@needs_threads
def test_eight_kernels_in_eight_threads_each_get_only_their_output() -> None:
    kernels = 8
    recorders = [Recorder() for _ in range(kernels)]
    barrier = threading.Barrier(kernels)
    errors: list[BaseException] = []

    def kernel(index: int) -> None:
        try:
            console = create_console("thread-local", recorders[index])
            try:
                console.start_cell(f"cell-{index}")
                barrier.wait(timeout=10)
                for i in range(2_000):
                    print(f"k{index} line {i}")
                    if i % 100 == 0:
                        sys.stderr.write(f"k{index} err {i}\n")
                console.end_cell()
            finally:
                console.close()
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=kernel, args=(index,)) for index in range(kernels)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors
    for index, rec in enumerate(recorders):
        expected = []
        for i in range(2_000):
            expected.append(("stdout", f"k{index} line {i}\n"))
            if i % 100 == 0:
                expected.append(("stderr", f"k{index} err {i}\n"))
        assert rec.merged() == merge(expected)
        assert {cid for cid, *_ in rec.calls} == {f"cell-{index}"}
        assert len(rec.calls) < 100


@needs_threads
def test_thread_inheritance_and_fall_through(
    recorder: Recorder, capsys: pytest.CaptureFixture[str], make_console: MakeConsole
) -> None:
    console = make_console("thread-local", recorder)
    print("before any cell")
    release = threading.Event()

    def lingering() -> None:
        print("child in cell")
        release.wait(5)
        print("child after the cell")

    def grandchild_starter() -> None:
        nested = threading.Thread(target=lambda: print("grandchild"))
        nested.start()
        nested.join()

    console.start_cell("c1")
    outsider = threading.Thread(target=lambda: print("outsider"))  # started below, after
    child = threading.Thread(target=lingering)
    child.start()
    starter = threading.Thread(target=grandchild_starter)
    starter.start()
    starter.join()
    assert wait_until(lambda: "child in cell" in recorder.text())
    console.end_cell()
    release.set()
    child.join()
    outsider.start()  # started after the cell: not captured
    outsider.join()

    assert recorder.text() in (
        "child in cell\ngrandchild\n",
        "grandchild\nchild in cell\n",
    )
    out = capsys.readouterr().out
    assert out.splitlines() == ["before any cell", "child after the cell", "outsider"]


@needs_threads
def test_install_twice_is_a_no_op_and_uninstall_restores_the_originals() -> None:
    stdout, stderr, start = sys.stdout, sys.stderr, threading.Thread.start
    streams.install_thread_local_proxies()
    proxy_out, proxy_err = sys.stdout, sys.stderr
    assert proxy_out is not stdout and proxy_err is not stderr
    patched_start = threading.Thread.start
    assert patched_start is not start

    streams.install_thread_local_proxies()
    assert sys.stdout is proxy_out and sys.stderr is proxy_err
    assert threading.Thread.start is patched_start

    streams.uninstall_thread_local_proxies()
    assert sys.stdout is proxy_out  # one install is still counted
    streams.uninstall_thread_local_proxies()
    assert sys.stdout is stdout and sys.stderr is stderr
    assert threading.Thread.start is start
    streams.uninstall_thread_local_proxies()  # extra: a no-op
    assert sys.stdout is stdout


@needs_threads
def test_consoles_share_one_install_and_the_last_close_uninstalls(recorder: Recorder) -> None:
    stdout = sys.stdout
    first = create_console("thread-local", recorder)
    proxy = sys.stdout
    second = create_console("thread-local", recorder)
    assert sys.stdout is proxy
    first.close()
    assert sys.stdout is proxy
    second.close()
    assert sys.stdout is stdout


@needs_threads
def test_thread_local_proxy_attributes(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    with tempfile.TemporaryFile("w+", encoding="latin-1") as original:
        monkeypatch.setattr(sys, "stdout", original)
        console = create_console("thread-local", recorder)
        proxy = sys.stdout
        assert isinstance(proxy, io.TextIOBase)
        assert proxy.fileno() == original.fileno()
        assert proxy.encoding == "latin-1" and not proxy.isatty()
        assert proxy.name == original.name and proxy.writable() and not proxy.closed
        assert proxy.write("unrouted\n") == 9
        proxy.flush()
        proxy.buffer.write(b"raw unrouted\n")

        console.start_cell("c1")
        assert proxy.encoding == "utf-8" and proxy.errors == "replace"
        assert proxy.fileno() == original.fileno()
        assert not proxy.isatty()
        assert proxy.write("routed\n") == 7
        proxy.writelines(["a\n", "b\n"])
        proxy.buffer.write("é\n".encode())
        proxy.flush()
        console.end_cell()

        assert proxy.encoding == "latin-1"
        proxy.flush()
        console.close()
        assert sys.stdout is original
        original.seek(0)
        assert original.read() == "unrouted\nraw unrouted\n"
    assert recorder.text() == "routed\na\nb\né\n"


# ------------------------------------------------------------------------ fd mode


@needs_threads
def test_fd_mode_in_process_captures_descriptor_writes_and_restores_them(
    recorder: Recorder, make_console: MakeConsole
) -> None:
    before = (fd_identity(1), fd_identity(2))
    console = make_console("fd", recorder)
    console.start_cell("c1")
    assert fd_identity(1) != before[0]
    os.write(1, b"raw fd 1\n")
    os.write(2, "raw fd 2 é\n".encode())
    print("python level")
    assert sys.stdout.fileno() == 1
    console.end_cell()
    assert (fd_identity(1), fd_identity(2)) == before

    assert "raw fd 1\n" in recorder.text("stdout")
    assert "python level\n" in recorder.text("stdout")
    assert recorder.text("stderr") == "raw fd 2 é\n"


def run_python(script: str, timeout: float = 30) -> tuple[dict[str, Any], str, str]:
    """Run ``script`` in a fresh interpreter; it prints ``RESULT <json>`` on its last line."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and lines[-1].startswith("RESULT "), proc.stdout + proc.stderr
    return json.loads(lines[-1][len("RESULT ") :]), "\n".join(lines[:-1]), proc.stderr


FD_PRELUDE = """
    import ctypes, json, os, subprocess, sys, time
    from lifecycle.streams import create_console

    calls = []
    def sink(cell_id, stream, text):
        calls.append([cell_id, stream, text])

    def ident(fd):
        info = os.fstat(fd)
        return [info.st_dev, info.st_ino, info.st_mode]

    def finish(**result):
        sys.stdout.flush()
        os.write(1, ("RESULT " + json.dumps({"calls": calls, **result}) + "\\n").encode())
"""


@needs_subprocess
def test_fd_mode_captures_child_processes_and_c_writes() -> None:
    result, stdout, stderr = run_python(
        FD_PRELUDE
        + """
    libc = ctypes.CDLL(None)
    before = [ident(1), ident(2)]
    console = create_console("fd", sink)
    console.start_cell("c1")
    print("python out")
    sys.stderr.write("python err\\n")
    os.system("echo child out; echo child err >&2")
    libc.write(1, b"c write\\n", 8)
    libc.printf(b"c printf %d\\n", 42)   # C stdio, block-buffered: needs fflush
    subprocess.run([sys.executable, "-c", "print('grandchild')"], check=True)
    console.end_cell()
    after_cell = [ident(1), ident(2)]
    print("after the cell")
    console.close()
    finish(before=before, after_cell=after_cell, after_close=[ident(1), ident(2)])
    """
    )
    calls = result["calls"]
    out = "".join(text for _, name, text in calls if name == "stdout")
    err = "".join(text for _, name, text in calls if name == "stderr")
    for piece in ("python out\n", "child out\n", "c write\n", "c printf 42\n", "grandchild\n"):
        assert piece in out
    assert sorted(err.splitlines()) == ["child err", "python err"]
    assert {cid for cid, _, _ in calls} == {"c1"}
    assert result["before"] == result["after_cell"] == result["after_close"]
    assert stdout == "after the cell"  # the real stdout got only what came after the cell
    assert "child err" not in stderr and "python err" not in stderr


@needs_subprocess
def test_fd_mode_end_cell_does_not_wait_for_a_lingering_child() -> None:
    result, stdout, _ = run_python(
        FD_PRELUDE
        + """
    console = create_console("fd", sink)
    console.start_cell("c1")
    child = subprocess.Popen(["sh", "-c", "sleep 3; echo late child"])
    print("in the cell")
    console.end_cell()
    child_still_running = child.poll() is None
    child.wait()
    time.sleep(0.2)
    console.close()
    finish(child_still_running=child_still_running)
    """
    )
    assert result["child_still_running"]  # end_cell returned without waiting for the child
    assert [text for _, _, text in result["calls"]] == ["in the cell\n"]
    assert stdout == "late child"  # passed through to the original stdout after the cell


@needs_subprocess
def test_fd_mode_forked_children_write_through_the_pipes() -> None:
    result, stdout, _ = run_python(
        FD_PRELUDE
        + """
    import multiprocessing, warnings
    warnings.simplefilter("ignore")  # fork with threads running
    console = create_console("fd", sink)
    console.start_cell("c1")
    print("parent before")
    child = multiprocessing.get_context("fork").Process(target=print, args=("forked child",))
    child.start()
    child.join()
    print("parent after")
    console.end_cell()
    console.close()
    finish(exitcode=child.exitcode)
    """
    )
    assert result["exitcode"] == 0
    out = "".join(text for _, name, text in result["calls"] if name == "stdout")
    # Every byte of both sources arrives, each source in its own order.  How the parent's
    # Python-level writes and the child's descriptor-level writes interleave is not fixed: the
    # child's bytes may still be in the pipe when the parent prints again.
    assert _is_interleaving(out, "parent before\nparent after\n", "forked child\n"), repr(out)
    assert stdout == ""


def _is_interleaving(text: str, first: str, second: str) -> bool:
    """Whether ``text`` is ``first`` and ``second`` merged with each one's order kept."""
    if len(text) != len(first) + len(second):
        return False
    reachable = {0}  # characters of ``first`` used so far, over the prefixes of ``text``
    for k, char in enumerate(text):
        reachable = {
            i + step
            for i in reachable
            for step, ok in ((1, i < len(first) and first[i] == char), (0, 0 <= k - i < len(second) and second[k - i] == char))
            if ok
        }
        if not reachable:
            return False
    return len(first) in reachable


def test_is_interleaving_helper() -> None:
    assert _is_interleaving("ab\nxy\ncd\n", "ab\ncd\n", "xy\n")
    assert _is_interleaving("parent before\nforked childparent after\n\n", "parent before\nparent after\n", "forked child\n")
    assert not _is_interleaving("parent before\nparent after\n", "parent before\nparent after\n", "forked child\n")
    assert not _is_interleaving("cd\nab\nxy\n", "ab\ncd\n", "xy\n")


@needs_subprocess
def test_fd_mode_partial_utf8_and_many_cells() -> None:
    result, stdout, _ = run_python(
        FD_PRELUDE
        + """
    console = create_console("fd", sink)
    for n in range(20):
        console.start_cell(f"c{n}")
        data = "né ✓\\n".encode()
        for i in range(len(data)):
            os.write(1, data[i : i + 1])  # one byte per write: every character is split
        console.end_cell()
    console.close()
    finish()
    """
    )
    texts = {}
    for cid, _, text in result["calls"]:
        texts[cid] = texts.get(cid, "") + text
    assert texts == {f"c{n}": "né ✓\n" for n in range(20)}
    assert stdout == ""


def test_partial_token_length() -> None:
    token = b"\x00sync\x00"
    assert streams._partial_token_length(b"abc", token) == 0
    assert streams._partial_token_length(b"abc\x00", token) == 1
    assert streams._partial_token_length(b"abc\x00sy", token) == 3
    assert streams._partial_token_length(b"\x00sync", token) == 5
    assert streams._partial_token_length(b"", token) == 0
