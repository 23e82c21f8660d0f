"""``%%capture [--no-stdout] [--no-stderr] [--no-display] [name]``: run the body, keeping its
stdout, stderr and display outputs in a :class:`CapturedOutput` instead of showing them.

Console text is captured at the Python level (``sys.stdout``/``sys.stderr`` writes, as
IPython does), per thread: while any capture is active a routing stream is installed over
``sys.stdout``/``sys.stderr`` (reference counted, process-wide) that sends the writes of a
capturing thread to its buffers and every other thread's to the stream that was there
before, so kernels running as threads of one process (run mode) do not capture each other.
Display outputs are captured by filtering the kernel context's ``emit`` for the running
cell while the body runs.  Figures left open by the body are flushed (through the
matplotlib backend, if pyplot is loaded) before the capture ends, as IPython's nested
``run_cell`` does.
"""

from __future__ import annotations

import io
import sys
import threading
from typing import Any

from lifecycle import context as context_mod
from lifecycle import protocol
from lifecycle.magics.base import MagicCall, UsageError, compile_at

__all__ = ["CapturedOutput", "RichOutput"]


class RichOutput:
    """One captured display output: ``data`` (a mimebundle) and ``metadata``."""

    def __init__(self, data: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        self.data = data
        self.metadata = metadata or {}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.data, self.metadata

    def display(self) -> None:
        """Show this output again in the running cell."""
        ctx = context_mod.current()
        ctx.output(self.data, self.metadata, kind="display")

    def __repr__(self) -> str:
        return f"<RichOutput {sorted(self.data)}>"


class CapturedOutput:
    """What ``%%capture name`` stores in ``name``.

    Attributes:
        stdout, stderr: the captured text.
        outputs: the captured display outputs (:class:`RichOutput`).
    """

    def __init__(self, stdout: str = "", stderr: str = "", outputs: list[RichOutput] | None = None) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.outputs = outputs or []

    def show(self) -> None:
        """Write the captured text to the cell's stdout/stderr and show the outputs again."""
        if self.stdout:
            sys.stdout.write(self.stdout)
            sys.stdout.flush()
        if self.stderr:
            sys.stderr.write(self.stderr)
            sys.stderr.flush()
        for output in self.outputs:
            output.display()

    __call__ = show

    def __str__(self) -> str:
        return self.stdout

    def __repr__(self) -> str:
        return (
            f"<CapturedOutput: {len(self.stdout)} chars of stdout, {len(self.stderr)} of "
            f"stderr, {len(self.outputs)} outputs>"
        )


class _Router(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while captures are active: per-thread routing."""

    def __init__(self, underlying: Any, index: int) -> None:
        self._underlying = underlying
        self._index = index

    def write(self, s: str) -> int:
        target = _active.get(threading.get_ident())
        buffer = target[self._index] if target is not None else None
        if buffer is not None:
            if not isinstance(s, str):
                raise TypeError(f"write() argument must be str, not {type(s).__name__}")
            return buffer.write(s)
        return self._underlying.write(s)  # type: ignore[no-any-return]

    def flush(self) -> None:
        if _active.get(threading.get_ident()) is None:
            self._underlying.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._underlying.fileno()  # type: ignore[no-any-return]

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._underlying, "encoding", None) or "utf-8"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._underlying, name)


_lock = threading.Lock()
_active: dict[int, tuple[io.StringIO | None, io.StringIO | None]] = {}
_installed: list[Any] = []  # [saved stdout, saved stderr, router out, router err] while in use
_users = 0


def _install() -> None:
    global _users
    with _lock:
        if _users == 0:
            saved = (sys.stdout, sys.stderr)
            routers = (_Router(saved[0], 0), _Router(saved[1], 1))
            sys.stdout, sys.stderr = routers
            _installed[:] = [*saved, *routers]
        _users += 1


def _uninstall() -> None:
    global _users
    with _lock:
        _users -= 1
        if _users == 0 and _installed:
            saved_out, saved_err, router_out, router_err = _installed
            if sys.stdout is router_out:
                sys.stdout = saved_out
            if sys.stderr is router_err:
                sys.stderr = saved_err
            _installed.clear()


def _flush_figures(ctx: Any) -> None:
    if "matplotlib.pyplot" not in sys.modules or ctx is None or ctx.cell_id is None:
        return
    try:
        from lifecycle.matplotlib_backend import publish
    except ImportError:
        return
    flush = getattr(publish, "flush_figures", None)
    if flush is not None:
        flush(ctx, ctx.cell_id)


def _parse_args(args: str) -> tuple[set[str], str | None]:
    flags: set[str] = set()
    name = None
    for word in args.split():
        if word in ("--no-stdout", "--no-stderr", "--no-display"):
            flags.add(word)
        elif word.startswith("-"):
            raise UsageError(f"%%capture: unknown option {word}")
        elif name is None and word.isidentifier():
            name = word
        else:
            raise UsageError(f"%%capture: unexpected argument {word!r}")
    return flags, name


def cell_capture(call: MagicCall) -> CapturedOutput:
    """Run the body with its outputs captured; returns the :class:`CapturedOutput` (the
    generated code assigns it to the name given)."""
    assert call.body is not None
    flags, _ = _parse_args(call.args)
    body, last = compile_at(call.body, call.filename, call.lineno + 1, split_last=True)
    result = CapturedOutput()
    out = None if "--no-stdout" in flags else io.StringIO()
    err = None if "--no-stderr" in flags else io.StringIO()
    ctx = context_mod.current_or_none()
    cell_id = ctx.cell_id if ctx is not None else None
    original_emit = ctx.emit if ctx is not None else None
    if ctx is not None and cell_id is not None and "--no-display" not in flags:
        forward = ctx.emit

        def emit(note: Any) -> None:
            if isinstance(note, protocol.CellOutput) and note.cell_id == cell_id:
                result.outputs.append(RichOutput(dict(note.data), dict(note.metadata)))
                return
            forward(note)

        ctx.emit = emit
    tid = threading.get_ident()
    _install()
    previous = _active.get(tid)
    _active[tid] = (out, err)
    try:
        if body is not None:
            exec(body, call.globals, call.locals)
        if last is not None:
            value = eval(last, call.globals, call.locals)
            if value is not None and "--no-display" not in flags and ctx is not None:
                formatter = ctx.extensions.get("format_value")
                data, md = formatter(value, max_bytes=ctx.output_max_bytes) if formatter else ({"text/plain": repr(value)}, {})
                result.outputs.append(RichOutput(data, md))
        _flush_figures(ctx)
    finally:
        if previous is None:
            _active.pop(tid, None)
        else:
            _active[tid] = previous
        _uninstall()
        if ctx is not None and original_emit is not None:
            ctx.emit = original_emit
        result.stdout = out.getvalue() if out is not None else ""
        result.stderr = err.getvalue() if err is not None else ""
    return result


CELL_MAGICS = {"capture": cell_capture}
LINE_MAGICS: dict[str, Any] = {}
