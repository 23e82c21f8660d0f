"""``%time``, ``%timeit``, ``%%time``, ``%%timeit``, with IPython's output formats.

* ``%time``: ``CPU times: user 1.2 ms, sys: 30 µs, total: 1.23 ms`` then
  ``Wall time: 1.25 ms`` (user/system CPU time of the process, :func:`os.times`).
* ``%timeit``: ``1.23 µs ± 45.6 ns per loop (mean ± std. dev. of 7 runs, 1,000,000 loops
  each)``.  Without ``-n`` the loop count is the first power of ten whose run takes at least
  0.2 s; ``-r`` runs (default 7) follow.  Garbage collection is off while timing, as in
  :mod:`timeit`.  The statement (and ``%%timeit``'s setup) is compiled into a function whose
  globals are the cell's, so names it binds stay local to it.
* times are written with 3 significant digits in s, ms, µs or ns (``"1.23 µs"``), or as
  ``"1min 5s"`` from a minute up.
"""

from __future__ import annotations

import ast
import gc
import itertools
import math
import os
import sys
import time
from types import TracebackType
from typing import Any

from lifecycle.ipython_syntax import TIMEIT_OPTIONS, OptionError, split_options, transform
from lifecycle.magics.base import MagicCall, UsageError, compile_at, show_result

__all__ = ["TimeitResult", "Timer", "clock", "format_time", "report_time"]

_CO_COROUTINE = 0x0080


def _micro() -> str:
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        "\xb5".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "us"
    return "\xb5"


def format_time(seconds: float, precision: int = 3) -> str:
    """A duration as IPython writes it: ``precision`` significant digits and a unit among
    s, ms, µs, ns (``"1.23 µs"``), or days/hours/minutes/seconds from 60 s (``"1min 5s"``)."""
    if seconds >= 60.0:
        parts: list[str] = []
        left = seconds
        for suffix, length in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
            value = int(left / length)
            if value > 0:
                left = left % length
                parts.append(f"{value}{suffix}")
            if left < 1:
                break
        return " ".join(parts)
    units = ("s", "ms", _micro() + "s", "ns")
    order = min(-(math.floor(math.log10(seconds)) // 3), 3) if seconds > 0.0 else 3
    return f"{seconds * 1000.0**order:.{precision}g} {units[order]}"


def clock() -> tuple[float, float, float]:
    """``(user CPU, system CPU, wall)`` seconds now (CPU times of the whole process:
    ``getrusage`` where it exists, µs resolution; else :func:`os.times`; else the process
    time as user time)."""
    try:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        user, system = usage.ru_utime, usage.ru_stime
    except (ImportError, AttributeError, OSError):
        try:
            times = os.times()
            user, system = times.user, times.system
        except (AttributeError, OSError):  # no os.times (some WebAssembly builds)
            user, system = time.process_time(), 0.0
    return user, system, time.perf_counter()


def report_time(start: tuple[float, float, float]) -> None:
    """Print the ``CPU times:`` / ``Wall time:`` lines for the time since ``start``."""
    end = clock()
    user, system, wall = (end[i] - start[i] for i in range(3))
    print(
        f"CPU times: user {format_time(user)}, sys: {format_time(system)}, "
        f"total: {format_time(user + system)}\nWall time: {format_time(wall)}"
    )


class Timer:
    """``with Timer(): stmt`` prints the time of ``stmt`` when it completes (nothing when it
    raises, as IPython)."""

    def __enter__(self) -> Timer:
        self.start = clock()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            report_time(self.start)


def time_exec(call: MagicCall, col: int) -> None:
    """``%time`` of a compound statement (``call.args``): run it in the cell's namespace."""
    body, _ = compile_at(call.args, call.filename, call.lineno, col)
    start = clock()
    if body is not None:
        _no_await(body, "%time")
        exec(body, call.globals, call.locals)
    report_time(start)


def _no_await(code: Any, magic: str) -> None:
    if code is not None and code.co_flags & _CO_COROUTINE:
        raise UsageError(f"{magic}: top-level await is not supported inside {magic}")


def cell_time(call: MagicCall) -> None:
    """``%%time``: run the body in the cell's namespace, print its times, show the value of
    its last expression as the cell's result."""
    assert call.body is not None
    body, last = compile_at(call.body, call.filename, call.lineno + 1, split_last=True)
    _no_await(body, "%%time")
    _no_await(last, "%%time")
    start = clock()
    if body is not None:
        exec(body, call.globals, call.locals)
    value = eval(last, call.globals, call.locals) if last is not None else None
    report_time(start)
    if value is not None:
        show_result(value)


class TimeitResult:
    """What ``%timeit -o`` returns (IPython's ``TimeitResult`` attributes).

    Attributes:
        loops: loops per run; repeat: runs; best, worst: fastest and slowest time per loop
        (s); all_runs: total time of each run (s); timings: time per loop of each run (s);
        average, stdev: mean and population standard deviation of ``timings``;
        compile_time: seconds spent compiling the statement.
    """

    def __init__(
        self, loops: int, repeat: int, best: float, worst: float, all_runs: list[float],
        compile_time: float, precision: int = 3,
    ) -> None:
        self.loops = loops
        self.repeat = repeat
        self.best = best
        self.worst = worst
        self.all_runs = all_runs
        self.compile_time = compile_time
        self._precision = precision
        self.timings = [run / loops for run in all_runs]

    @property
    def average(self) -> float:
        return math.fsum(self.timings) / len(self.timings)

    @property
    def stdev(self) -> float:
        mean = self.average
        return math.sqrt(math.fsum((t - mean) ** 2 for t in self.timings) / len(self.timings))

    def __str__(self) -> str:
        pm = "\xb1" if _micro() == "\xb5" else "+-"
        runs = "run" if self.repeat == 1 else "runs"
        loops = "loop" if self.loops == 1 else "loops"
        mean = format_time(self.average, self._precision)
        std = format_time(self.stdev, self._precision)
        return (
            f"{mean} {pm} {std} per loop (mean {pm} std. dev. of {self.repeat} {runs}, "
            f"{self.loops:,} {loops} each)"
        )

    def __repr__(self) -> str:
        return f"<TimeitResult : {self}>"


_TEMPLATE = """\
def __amphi_timeit__(_it, _timer):
    pass
    _t0 = _timer()
    for _i in _it:
        pass
    _t1 = _timer()
    return _t1 - _t0
"""


def _compile_timer(setup: str, stmt: str, call: MagicCall, stmt_line: int, stmt_col: int) -> Any:
    """The timing function, with setup and statement at their places in the cell."""
    template = ast.parse(_TEMPLATE)
    func = template.body[0]
    assert isinstance(func, ast.FunctionDef)
    for node in ast.walk(template):
        if hasattr(node, "lineno"):
            node.lineno = node.end_lineno = call.lineno  # type: ignore[attr-defined]
            node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]

    def parsed(source: str, lineno: int, col: int) -> list[ast.stmt]:
        if not source.strip():
            return [ast.copy_location(ast.Pass(), func)]
        try:
            tree = ast.parse(transform(source).code, call.filename)
        except SyntaxError as exc:
            if exc.lineno is not None:
                if exc.lineno == 1 and exc.offset is not None:
                    exc.offset += col
                exc.lineno += lineno - 1
            raise
        for node in ast.walk(tree):
            if col and getattr(node, "lineno", None) == 1:
                node.col_offset += col  # type: ignore[attr-defined]
                if getattr(node, "end_lineno", None) == 1:
                    node.end_col_offset += col  # type: ignore[attr-defined]
        ast.increment_lineno(tree, lineno - 1)
        return tree.body or [ast.copy_location(ast.Pass(), func)]

    func.body[0:1] = parsed(setup, call.lineno, 0)
    loop = func.body[-3]
    assert isinstance(loop, ast.For)
    loop.body = parsed(stmt, stmt_line, stmt_col)
    code = compile(template, call.filename, "exec", dont_inherit=True)
    local_ns: dict[str, Any] = {}
    exec(code, call.namespace(), local_ns)
    return local_ns["__amphi_timeit__"]


def _int_option(options: dict[str, Any], letter: str, default: int) -> int:
    value = options.get(letter)
    if value is None:
        return default
    try:
        number = int(str(value))
    except ValueError:
        raise UsageError(f"%timeit: -{letter} needs an integer, got {value!r}") from None
    if number < 0 or (letter == "r" and number == 0):
        raise UsageError(f"%timeit: -{letter} must be positive, got {number}")
    return number


def run_timeit(call: MagicCall, setup: str, stmt: str, stmt_line: int, stmt_col: int,
               options: dict[str, Any]) -> TimeitResult | None:
    """Time ``stmt`` (after ``setup``) and print/return the result per ``options``."""
    number = _int_option(options, "n", 0)
    repeat = _int_option(options, "r", 7)
    precision = _int_option(options, "p", 3)
    compile_start = time.perf_counter()
    inner = _compile_timer(setup, stmt, call, stmt_line, stmt_col)
    compile_time = time.perf_counter() - compile_start

    def timer(loops: int) -> float:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return float(inner(itertools.repeat(None, loops), time.perf_counter))
        finally:
            if enabled:
                gc.enable()

    if number == 0:
        for index in range(10):
            number = 10**index
            if timer(number) >= 0.2:
                break
    all_runs = [timer(number) for _ in range(repeat)]
    per_loop = [run / number for run in all_runs]
    result = TimeitResult(number, repeat, min(per_loop), max(per_loop), all_runs, compile_time, precision)
    if not options.get("q"):
        if result.worst > 4 * result.best and result.best > 0 and result.worst > 1e-6:
            print(
                f"The slowest run took {result.worst / result.best:0.2f} times longer than the "
                "fastest. This could mean that an intermediate result is being cached."
            )
        print(result)
        if compile_time > 0.1:
            print(f"Compiler time: {compile_time:.2f} s")
    return result if options.get("o") else None


def _options(text: str) -> tuple[dict[str, Any], str]:
    try:
        return split_options(text, TIMEIT_OPTIONS)
    except OptionError as exc:
        raise UsageError(f"%timeit: {exc}") from None


def line_timeit(call: MagicCall, col: int) -> TimeitResult | None:
    """``%timeit [-n N] [-r R] [-p P] [-t] [-c] [-q] [-o] statement``."""
    options, stmt = _options(call.args)
    return run_timeit(call, "", stmt or "pass", call.lineno, col, options)


def cell_timeit(call: MagicCall) -> TimeitResult | None:
    """``%%timeit [options] [setup]`` then the body, timed."""
    assert call.body is not None
    options, setup = _options(call.args)
    return run_timeit(call, setup, call.body, call.lineno + 1, 0, options)


def line_time(call: MagicCall) -> None:
    """``%time`` alone: times nothing (the statement forms are rewritten inline)."""
    start = clock()
    if call.args.strip():
        time_exec(call, 0)
        return
    report_time(start)


def _line_timeit(call: MagicCall) -> TimeitResult | None:
    """``%timeit [-n N] [-r R] [-p P] [-t] [-c] [-q] [-o] statement``: time the statement
    (``-n`` loops per run, default: enough for 0.2 s; ``-r`` runs, default 7; ``-p``
    significant digits; ``-q`` print nothing; ``-o`` return a ``TimeitResult``)."""
    return line_timeit(call, 0)


LINE_MAGICS = {"time": line_time, "timeit": _line_timeit}
CELL_MAGICS = {"time": cell_time, "timeit": cell_timeit}
