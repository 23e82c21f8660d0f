"""Magics, shell escapes and help through a real kernel (both queue readers, console captured)."""

from __future__ import annotations

import _thread
import base64
import hashlib
import os
import re
import sys
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lifecycle import protocol
from lifecycle.kernel_lifecycle import KernelArgs
from lifecycle.magics.pip import PipError, pip_with_installer
from lifecycle.magics.processes import run_command
from tests.lifecycle.harness import (
    READERS,
    KernelHarness,
    console,
    errors,
    needs_subprocess,
    outputs,
)

pytestmark = pytest.mark.timeout(120)

TIME_UNIT = r"\d+(\.\d+)?(e[+-]\d+)? (ns|µs|ms|s)"  # IPython's %.3g: 999.99 ns is "1e+03 ns"
TIMEIT_LINE = re.compile(
    rf"^{TIME_UNIT} ± {TIME_UNIT} per loop \(mean ± std\. dev\. of (\d+) runs?, ([\d,]+) loops? each\)$"
)
TIME_LINES = re.compile(
    rf"^CPU times: user {TIME_UNIT}, sys: {TIME_UNIT}, total: {TIME_UNIT}\nWall time: {TIME_UNIT}\n$"
)


@pytest.fixture(params=READERS)
async def kernel(request: pytest.FixtureRequest) -> AsyncIterator[_LazyKernel]:
    """A kernel whose console is captured the way its host captures it.  Thread-local
    proxies are installed on first use, inside the test's call phase (pytest swaps
    ``sys.stdout`` between phases, which would leave proxies installed at set-up behind)."""
    holder = _LazyKernel(request.param)
    try:
        yield holder
    finally:
        await holder.close()


class _LazyKernel:
    """Starts its kernel on the first ``execute`` (see :func:`kernel`)."""

    def __init__(self, reader: str) -> None:
        mode = "replace" if reader == "asyncio" else "thread-local"
        self.harness = KernelHarness(reader, KernelArgs(console=mode))
        self.started = False

    async def execute(self, cells: dict[str, str], order: list[str] | None = None, timeout: float = 30) -> list[object]:
        if not self.started:
            await self.harness.start()
            self.started = True
        mark = self.harness.mark()
        self.harness.send(protocol.ExecuteCells(cell_ids=list(cells), codes=list(cells.values()), order=order))
        await self.harness.wait_for(lambda n: isinstance(n, protocol.CompletedRun), mark, timeout)
        return self.harness.since(mark)

    @property
    def runtime(self) -> Any:
        return self.harness.runtime

    async def close(self) -> None:
        if self.started and not self.harness.finished.is_set():
            await self.harness.stop()


def _ok(notes: list[object]) -> None:
    assert errors(notes) == [], [(e.ename, e.evalue, e.traceback) for e in errors(notes)]


async def test_timeit_prints_ipython_format(kernel: _LazyKernel) -> None:
    notes = await kernel.execute({"a": "import math\nx = 3", "b": "%timeit -n 100 -r 3 math.sqrt(x)"})
    _ok(notes)
    line = console(notes, "b")
    match = TIMEIT_LINE.match(line.rstrip("\n"))
    assert match, line
    assert match.group(7) == "3" and match.group(8) == "100"


async def test_timeit_autoranges_loops(kernel: _LazyKernel) -> None:
    # Autorange tries 1, 10, 100... loops until one batch takes >= 0.2 s.  The statement is a
    # no-op except on its 11th call (the last of the 10-loop batch), which sleeps 0.25 s: the
    # 1-loop batch is far below 0.2 s and the 10-loop batch at least 0.25 s on any machine.
    notes = await kernel.execute({
        "a": "import time\ncalls = [0]\n"
        "def step():\n    calls[0] += 1\n    if calls[0] == 11:\n        time.sleep(0.25)",
        "b": "%timeit -r 1 step()",
        "c": "calls[0]",
    })
    _ok(notes)
    assert console(notes, "b").rstrip().endswith("(mean ± std. dev. of 1 run, 10 loops each)")
    assert outputs(notes, "c") == ["21"]  # 1 + 10 while autoranging, then one run of 10


async def test_timeit_output_object_and_locals(kernel: _LazyKernel) -> None:
    notes = await kernel.execute({
        "a": "def f(v):\n    return v * 2\nx = 4",
        "b": "res = %timeit -o -q -n 10 -r 2 y = f(x)",
        "c": "res.loops, res.repeat, len(res.all_runs), res.best <= res.worst, 'y' in globals()",
        "d": "repr(res).startswith('<TimeitResult : ')",
    })
    _ok(notes)
    assert console(notes, "b") == ""
    assert outputs(notes, "c") == ["(10, 2, 2, True, False)"]
    assert outputs(notes, "d") == ["True"]


async def test_timeit_multiline_and_cell(kernel: _LazyKernel) -> None:
    notes = await kernel.execute({
        "a": "x = [1, 2]; y = [3, 4]",
        "b": "%timeit -n 2 -r 2 sum((xi + yi for xi, yi in zip(x, y)), \\\n    0)",
        "c": "%%timeit -n 3 -r 2 total = 0\nfor v in x:\n    total += v",
    })
    _ok(notes)
    assert TIMEIT_LINE.match(console(notes, "b").splitlines()[-1])
    assert console(notes, "c").rstrip().endswith("(mean ± std. dev. of 2 runs, 3 loops each)")


async def test_open_bracket_does_not_continue_a_magic(kernel: _LazyKernel) -> None:
    # pdsh 03.12 as in IPython: only a trailing backslash continues a line magic, so the
    # indented second line is an IndentationError and nothing is timed.
    code = "%timeit np.fromiter((xi + yi for xi, yi in zip(x, y)),\n                    dtype=x.dtype, count=len(x))"
    notes = await kernel.execute({"d": code})
    (err,) = errors(notes, "d")
    assert (err.ename, err.evalue) == ("IndentationError", "unexpected indent")
    assert err.frames[-1].lineno == 2 and err.frames[-1].line == "dtype=x.dtype, count=len(x))"
    assert console(notes, "d") == ""


async def test_time_line_and_cell(kernel: _LazyKernel) -> None:
    notes = await kernel.execute({
        "a": "%time y = sum(range(10))",
        "b": "%time y * 2",
        "c": "%%time\nz = y + 1\nz * 10",
        "d": "z",
    })
    _ok(notes)
    assert TIME_LINES.match(console(notes, "a")), console(notes, "a")
    assert TIME_LINES.match(console(notes, "b"))
    assert outputs(notes, "b") == ["90"]
    assert TIME_LINES.match(console(notes, "c"))
    assert outputs(notes, "c") == ["460"]
    assert outputs(notes, "d") == ["46"]
    # y is a definition of cell a in the graph: changing a re-runs b, c and d
    notes = await kernel.execute({"a": "%time y = 1"})
    assert outputs(notes, "b") == ["2"] and outputs(notes, "d") == ["2"]


async def test_tracebacks_point_at_cell_lines(kernel: _LazyKernel) -> None:
    notes = await kernel.execute({"a": "%%time\nq = 1\nw = 1 / 0", "b": "%timeit -n 1 -r 1 1 / 0"})
    (err,) = errors(notes, "a")
    assert err.ename == "ZeroDivisionError"
    assert (err.frames[-1].lineno, err.frames[-1].line) == (3, "w = 1 / 0")
    (err,) = errors(notes, "b")
    assert err.frames[-1].lineno == 1 and err.frames[-1].cell_id == "b"


@needs_subprocess
async def test_shell_commands(kernel: _LazyKernel) -> None:
    notes = await kernel.execute({
        "a": "n = 7\n!echo hello {n} $n\n!echo oops 1>&2",
        "b": "lines = !printf 'one\\ntwo\\n'\nlines, lines.n, lines.s, type(lines).__name__",
        "c": "!!echo direct",
    })
    _ok(notes)
    assert console(notes, "a") == "hello 7 7\r\noops\r\n"  # a terminal: stderr merged, \r\n
    assert outputs(notes, "b") == ["(['one', 'two'], 'one\\ntwo', 'one two', 'SList')"]
    assert outputs(notes, "c") == ["['direct']"]


@needs_subprocess
async def test_shell_output_reactive(kernel: _LazyKernel) -> None:
    await kernel.execute({"a": "word = 'x'", "b": "out = !echo {word}", "c": "out[0] * 2"})
    notes = await kernel.execute({"a": "word = 'yz'"})
    assert outputs(notes, "c") == ["'yzyz'"]


@needs_subprocess
async def test_shell_runs_on_a_terminal(kernel: _LazyKernel) -> None:
    """``!cmd`` runs on a pseudo-terminal as in Jupyter (``\\n`` reaches stdout as ``\\r\\n``,
    the command sees a terminal); ``x = !cmd`` runs on pipes (pdsh 02.04's ``!head``)."""
    notes = await kernel.execute({
        "a": "!printf 'a\\nb\\n'",
        "b": "!test -t 1 && echo tty",
        "c": "x = !printf 'a\\nb\\n'\ny = !test -t 1 && echo tty || echo pipe\nx, y",
        "d": "!cat\n!stty size",
        "e": "!sleep 5 &",
    })
    assert errors(notes, "a") == [] and errors(notes, "b") == []
    assert console(notes, "a") == "a\r\nb\r\n"
    assert console(notes, "b") == "tty\r\n"
    assert outputs(notes, "c") == ["(['a', 'b'], ['pipe'])"]
    assert console(notes, "d") == "24 80\r\n"  # stdin gives end-of-file: cat ends at once
    (err,) = errors(notes, "e")
    assert (err.ename, err.evalue) == ("OSError", "Background processes not supported.")


@needs_subprocess
def test_interrupting_a_shell_command_stops_its_process_group(tmp_path: Path) -> None:
    """A ``KeyboardInterrupt`` (what hosts raise in the cell's thread) while ``!cmd`` runs
    stops the command's whole process group, then propagates."""
    proc = Path("/proc")
    if not proc.is_dir():
        pytest.skip("needs /proc to see the command's child")
    pidfile = tmp_path / "pid"
    shown: list[str] = []

    def write(text: str) -> None:
        shown.append(text)
        if "started" in text:
            _thread.interrupt_main()  # raised in this (the main) thread, as SIGINT would be

    # the background sleep ignores SIGINT (a non-interactive shell's asynchronous command)
    # and SIGHUP (sent when a shell that took the terminal as its controlling one ends)
    command = f"sh -c \"trap '' HUP; exec sleep 60\" & echo $! > {pidfile}; echo started; wait; echo never"
    with pytest.raises(KeyboardInterrupt):
        run_command(command, write=write, terminal=True)
    assert "".join(shown) == "started\r\n"
    stat = proc / pidfile.read_text().strip() / "stat"
    for _ in range(500):  # SIGKILL was sent; the process state changes soon after
        if not stat.exists() or stat.read_text().rsplit(") ", 1)[-1].startswith(("Z", "X")):
            break
        time.sleep(0.01)
    else:
        raise AssertionError(f"the command's child still runs: {stat.read_text()}")


@needs_subprocess
async def test_bash_cells_keep_stderr_apart_and_fail_as_ipython(kernel: _LazyKernel) -> None:
    notes = await kernel.execute({
        "a": "%%bash\necho out\necho err >&2\ntest -t 0 || echo 'stdin is the script'",
        "b": "%%sh\nexit 3",
    })
    assert errors(notes, "a") == []
    assert console(notes, "a") == "out\nstdin is the script\n"
    assert console(notes, "a", "stderr") == "err\n"
    (err,) = errors(notes, "b")
    assert (err.ename, err.evalue) == ("CalledProcessError", "Command 'b'exit 3\\n'' returned non-zero exit status 3.")


async def test_capture(kernel: _LazyKernel) -> None:
    notes = await kernel.execute({
        "a": "%%capture out\nprint('captured')\nimport sys\nprint('err', file=sys.stderr)\ndisplay(42)",
        "b": "out.stdout, out.stderr, [o.data['text/plain'] for o in out.outputs]",
        "c": "out.show()",
    })
    _ok(notes)
    assert console(notes, "a") == "" and console(notes, "a", "stderr") == ""
    assert outputs(notes, "a") == []
    assert outputs(notes, "b") == ["('captured\\n', 'err\\n', ['42'])"]
    assert console(notes, "c") == "captured\n" and console(notes, "c", "stderr") == "err\n"
    assert outputs(notes, "c") == ["42"]


async def test_writefile(kernel: _LazyKernel, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    notes = await kernel.execute({"p": f"path = {str(target)!r}", "w": "%%writefile {path}\nline one\n"})
    _ok(notes)
    assert console(notes, "w") == f"Writing {target}\n"
    notes = await kernel.execute({"w2": "%%writefile -a {path}\nline two"})
    assert console(notes, "w2") == f"Appending to {target}\n"
    assert target.read_text() == "line one\nline two\n"


async def test_env(kernel: _LazyKernel) -> None:
    try:
        notes = await kernel.execute({
            "a": "%env AMPHI_TEST_VAR=1",
            "b": "%env AMPHI_TEST_VAR 2",
            "c": "%env AMPHI_TEST_VAR",
            "d": "env = %env\nenv['AMPHI_TEST_VAR']",
            "e": "%env AMPHI_NOT_SET_ANYWHERE",
        }, order=["a", "b", "c", "d", "e"])
        assert console(notes, "a") == "env: AMPHI_TEST_VAR=1\n"
        assert console(notes, "b") == "env: AMPHI_TEST_VAR=2\n"
        assert outputs(notes, "c") == ["'2'"] and outputs(notes, "d") == ["'2'"]
        (err,) = errors(notes, "e")
        assert (err.ename, err.evalue) == ("UsageError", "Environment does not have key: AMPHI_NOT_SET_ANYWHERE")
    finally:
        os.environ.pop("AMPHI_TEST_VAR", None)


async def test_cd_pwd(kernel: _LazyKernel, tmp_path: Path) -> None:
    before = os.getcwd()
    try:
        notes = await kernel.execute({"a": f"d = {str(tmp_path)!r}", "b": "%cd {d}", "c": "%pwd"})
        _ok(notes)
        assert console(notes, "b") == f"{os.path.realpath(tmp_path)}\n"
        assert outputs(notes, "c") == [repr(os.path.realpath(tmp_path))]
    finally:
        os.chdir(before)


async def test_who_and_help(kernel: _LazyKernel) -> None:
    notes = await kernel.execute({
        "a": "import math\ndef f(a, b=1):\n    'Doc of f.'\n    return a\nvalue = 3",
        "b": "%who",
        "c": "f?",
        "d": "f??",
        "e": "nothing_here?",
        "f": "%timeit?",
        "g": "%who function",
        "h": "%whos",
    })
    _ok(notes)
    assert console(notes, "b") == "f\t math\t value\t \n"
    assert "Signature: f(a, b=1)" in console(notes, "c") and "Doc of f." in console(notes, "c")
    assert "def f(a, b=1):\n    'Doc of f.'" in console(notes, "d")
    assert console(notes, "e") == "Object `nothing_here` not found.\n"
    assert "-n" in console(notes, "f")
    assert console(notes, "g") == "f\t \n"
    table = console(notes, "h").splitlines()
    assert table[0].split() == ["Variable", "Type", "Data/Info"] and set(table[1]) == {"-"}
    assert [row.split()[:3] for row in table[2:]] == [["f", "function", "<function"], ["math", "module", "<module"], ["value", "int", "3"]]


async def test_unknown_magics_are_one_clear_error(kernel: _LazyKernel) -> None:
    notes = await kernel.execute({
        "a": "x = 1\n%foo bar\ny = 2",
        "b": "%%nope\nwhatever",
        "c": "z = 3",
        "d": "x = 1\n%%time\nq = 2",
    })
    (err,) = errors(notes, "a")
    assert (err.ename, err.evalue) == ("UsageError", "Line magic function `%foo` not found.")
    assert err.frames[-1].lineno == 2
    (err,) = errors(notes, "b")
    assert (err.ename, err.evalue) == ("UsageError", "Cell magic `%%nope` not found.")
    assert errors(notes, "c") == []
    (err,) = errors(notes, "d")
    assert err.evalue.startswith("Line magic function `%%time` not found")


async def test_accepted_settings_magics(kernel: _LazyKernel) -> None:
    notes = await kernel.execute({
        "a": "%matplotlib inline\n%load_ext autoreload\n%autoreload 2",
        "b": "%config InlineBackend.figure_format = 'svg'",
        "c": "%load_ext not_an_extension",
        "d": "%%html\n<b>bold</b>",
    })
    assert errors(notes, "a") == [] and errors(notes, "b") == []
    assert console(notes, "a") == ""
    runtime = kernel.runtime
    assert runtime is not None
    assert runtime.context.extensions["config"] == {"InlineBackend": {"figure_format": "svg"}}
    state = runtime.context.extensions.get("matplotlib")
    if state is not None:  # the matplotlib backend applied it to this kernel's figures
        assert state.formats == ("svg",)
    (err,) = errors(notes, "c")
    assert err.ename == "UsageError"
    (out,) = [n for n in notes if isinstance(n, protocol.CellOutput) and n.cell_id == "d"]
    assert out.data["text/html"] == "<b>bold</b>\n"


def _wheel(directory: Path, name: str) -> Path:
    """A minimal pure-Python wheel (PEP 427) holding module ``name``."""
    files = {
        f"{name}/__init__.py": b"ANSWER = 42\n",
        f"{name}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{name}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{name}-1.0.dist-info/RECORD,,")
    files[f"{name}-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


@needs_subprocess
async def test_pip_install_local_wheel_and_missing_package(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "amphi_demo_pkg")
    target = tmp_path / "site"
    h = _LazyKernel(READERS[-1])
    try:
        notes = await h.execute({
            "a": f"wheels, target = {str(wheels)!r}, {str(target)!r}",
            "b": "%pip install --no-index --find-links {wheels} --target {target} amphi_demo_pkg",
            "c": "import sys\nsys.path.insert(0, target)\nimport amphi_demo_pkg\namphi_demo_pkg.ANSWER",
        }, timeout=90)
        _ok(notes)
        assert "Successfully installed amphi_demo_pkg" in console(notes, "b").replace("-", "_")
        assert outputs(notes, "c") == ["42"]
        notes = await h.execute({"d": "%pip install --no-index amphi-no-such-package-xyz"}, timeout=90)
        (err,) = errors(notes, "d")
        assert err.ename == "PipError" and "exit status" in err.evalue
        assert "amphi-no-such-package-xyz" in console(notes, "d")
    finally:
        await h.close()
        sys.path[:] = [p for p in sys.path if p != str(target)]
        sys.modules.pop("amphi_demo_pkg", None)


async def test_pip_through_a_host_installer(capsys: pytest.CaptureFixture[str]) -> None:
    """The Pyodide path: ``%pip install`` handed to the kernel's ``installer`` extension
    (micropip there; an async function with its result shape here)."""
    asked: list[list[str]] = []

    async def installer(requirements: list[str]) -> tuple[list[str], dict[str, str]]:
        asked.append(requirements)
        return [r for r in requirements if r != "bad"], {r: "no such package" for r in requirements if r == "bad"}

    await pip_with_installer("install -q -U good --index-url https://x.invalid/simple", installer)
    assert asked == [["good"]]
    assert capsys.readouterr().out == "Installing good ...\nSuccessfully installed good\n"
    with pytest.raises(PipError, match="bad: no such package"):
        await pip_with_installer("install good bad", installer)
