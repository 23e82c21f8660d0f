""":func:`create_console`: the one way to make a console, by mode name."""

from __future__ import annotations

from lifecycle.streams.console import (
    DEFAULT_MAX_BYTES_PER_CELL,
    Console,
    ConsoleMode,
    Sink,
)
from lifecycle.streams.fd import _FdConsole
from lifecycle.streams.replace import _ReplaceConsole
from lifecycle.streams.thread_local import _ThreadLocalConsole

_MODES: dict[str, type[Console]] = {
    "fd": _FdConsole,
    "replace": _ReplaceConsole,
    "thread-local": _ThreadLocalConsole,
}


def create_console(
    mode: ConsoleMode,
    sink: Sink,
    *,
    max_bytes_per_cell: int = DEFAULT_MAX_BYTES_PER_CELL,
    flush_interval: float = 0.02,
    max_flush_interval: float = 0.5,
    flush_bytes: int = 1 << 20,
    sync_timeout: float = 2.0,
) -> Console:
    """Create a console capturing cell output in ``mode``.

    Args:
        mode: ``"fd"`` (subprocess host: file descriptors 1 and 2, C extensions and child
            processes included), ``"replace"`` (Pyodide: swaps ``sys.stdout``/``sys.stderr``,
            never starts a thread) or ``"thread-local"`` (thread hosts: per-thread routing
            proxies installed once per process).
        sink: ``sink(cell_id, stream, text)`` with ``stream`` ``"stdout"`` or ``"stderr"``;
            one call is one message.  Called from any thread (never concurrently for one
            console); an exception it raises is logged and the text is dropped.
        max_bytes_per_cell: cap on one cell's delivered output, UTF-8 bytes; beyond it the
            output is discarded and one notice is delivered on stderr.
        flush_interval: first delay, seconds, between deliveries of a cell that keeps
            printing (the first write after a quiet period is delivered at once).
        max_flush_interval: the delay doubles up to this many seconds.
        flush_bytes: pending output larger than this many characters is delivered at once.
        sync_timeout: fd mode: seconds ``end_cell`` waits for the pipes to drain (and
            ``close`` for its threads).

    Raises:
        ValueError: unknown ``mode`` or an out-of-range option.
        OSError: fd mode could not duplicate descriptors 1 and 2 or create its pipes.
    """
    try:
        console_class = _MODES[mode]
    except KeyError:
        raise ValueError(
            f"unknown console mode {mode!r}; expected one of {sorted(_MODES)}"
        ) from None
    return console_class(
        sink,
        max_bytes_per_cell=max_bytes_per_cell,
        flush_interval=flush_interval,
        max_flush_interval=max_flush_interval,
        flush_bytes=flush_bytes,
        sync_timeout=sync_timeout,
    )
