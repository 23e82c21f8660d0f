"""One cell's console output: its ordered chunk buffer and the text streams writing into it.

``items`` of a :class:`_Cell` holds stdout chunks as ``str`` and stderr chunks as 1-tuples, so
stdout and stderr of one cell are never reordered.  :class:`_CellWriter` is what ``sys.stdout``
and ``sys.stderr`` are (fd mode) or route to (thread-local mode) while a cell runs, and
:class:`_CellBinaryWriter` its ``.buffer``.  The console owning a cell is seen here only
through :class:`_CellOwner` (the callbacks a writer makes), so this module imports no other
module of the package.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable
from typing import Any, Literal, Protocol, TypeAlias

StreamName: TypeAlias = Literal["stdout", "stderr"]


def _type_error(value: object) -> TypeError:
    return TypeError(f"write() argument must be str, not {type(value).__name__}")


# --------------------------------------------------------------------------- cell buffer


class _Cell:
    """The console output of one cell run: an ordered chunk buffer and its accounting.

    ``items`` holds stdout chunks as ``str`` and stderr chunks as ``(str,)`` so the hot path
    for the common stream appends without building a tuple.  ``chars`` (characters waiting in
    ``items``) is only approximate under concurrent writers: the slow path recounts it.
    ``limit`` is written only under the console's state lock; a write whose pending total
    would exceed it takes the slow path (flush size reached, cap reached, or cell closed).
    """

    __slots__ = (
        "accepted",
        "armed",
        "cell_id",
        "chars",
        "delivered",
        "due",
        "ends_with_newline",
        "err",
        "interval",
        "items",
        "limit",
        "notice_sent",
        "open",
        "out",
        "timer",
        "truncated",
    )

    def __init__(self, cell_id: str, limit: int, interval: float) -> None:
        self.cell_id = cell_id
        self.items: list[Any] = []
        self.chars = 0
        self.limit = limit
        self.accepted = 0  # characters taken out of ``items`` so far
        self.delivered = 0  # UTF-8 bytes handed to the sink so far
        self.open = True
        self.truncated = False
        self.notice_sent = False
        self.ends_with_newline = True
        self.armed = False  # threaded modes: the flusher is timing this cell
        self.due = 0.0  # replace mode: monotonic time from which a write delivers
        self.interval = interval  # replace mode: current flush interval, seconds
        self.timer: Any = None  # replace mode: asyncio TimerHandle of the trailing flush
        self.out: _CellWriter | None = None
        self.err: _CellWriter | None = None


class _CellOwner(Protocol):
    """What a cell writer calls back into: the console of the cell
    (:class:`lifecycle.streams.console.Console`)."""

    def _kick(self, cell: _Cell) -> None: ...

    def _tick(self, cell: _Cell) -> None: ...

    def _accept(self, cell: _Cell, stream: StreamName, text: str, *, sync: bool) -> None: ...


# ------------------------------------------------------------------------------ writers


class _CellWriter(io.TextIOBase):
    """A text stream appending to one cell's buffer, for modes with a flusher thread.

    Installed as ``sys.stdout``/``sys.stderr`` (fd mode) or routed to by the proxies
    (thread-local mode); the first write of a burst wakes the flusher.  Once the cell has
    ended, writes fall through to ``original``.
    """

    encoding = "utf-8"  # what ``.buffer`` decodes
    errors = "replace"  # lone surrogates reach the sink as U+FFFD

    def __init__(
        self,
        console: _CellOwner,
        cell: _Cell,
        stream: StreamName,
        original: Any,
        fileno: int | None,
    ) -> None:
        super().__init__()
        self.stream = stream
        self._is_err = stream == "stderr"  # stderr chunks are stored as 1-tuples
        self._console = console
        self._cell = cell
        self._append = cell.items.append
        self._original = original
        self._fileno = fileno
        self.buffer = _CellBinaryWriter(self)

    def write(self, s: str) -> int:
        # The hot path (tens of thousands of calls per second): keep it to a few operations.
        if s.__class__ is not str and not isinstance(s, str):
            raise _type_error(s)
        cell = self._cell
        n = len(s)
        chars = cell.chars + n
        if chars > cell.limit:
            return self._write_slow(s)
        cell.chars = chars
        self._append((s,) if self._is_err else s)
        if not cell.armed:
            self._console._kick(cell)
        return n

    def _write_slow(self, s: str) -> int:
        cell = self._cell
        if not cell.open:
            original = self._original
            return len(s) if original is None else original.write(s)
        self._console._accept(cell, self.stream, s, sync=True)
        return len(s)

    def writelines(self, lines: Iterable[str]) -> None:  # type: ignore[override]
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Delivery is driven by the console's batching; after the cell, flush the original."""
        if not self._cell.open and self._original is not None:
            self._original.flush()

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        if self._fileno is not None:
            return self._fileno
        if self._original is None:
            raise io.UnsupportedOperation("fileno")
        return self._original.fileno()

    def close(self) -> None:
        """Ignored: a cell cannot close the console."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._original, name)


class _CellBinaryWriter(io.BufferedIOBase):
    """``.buffer`` of a cell writer: decodes UTF-8 (``errors="replace"``) into the text writer.

    An incomplete multibyte sequence at the end of one write is completed by the next; one
    still incomplete when the cell ends becomes U+FFFD.
    """

    def __init__(self, text: _CellWriter) -> None:
        super().__init__()
        self._text = text
        self._decoder: codecs.IncrementalDecoder | None = None

    def write(self, b: Any) -> int:  # type: ignore[override]
        if isinstance(b, str):
            raise TypeError("a bytes-like object is required, not 'str'")
        with memoryview(b) as view:
            data = view.tobytes()
        if self._decoder is None:
            self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        text = self._decoder.decode(data)
        if text:
            self._text.write(text)
        return len(data)

    def finish(self) -> None:
        """End of the cell: deliver a dangling incomplete sequence as U+FFFD."""
        if self._decoder is not None:
            text = self._decoder.decode(b"", True)
            if text:
                self._text.write(text)

    def writelines(self, lines: Iterable[Any]) -> None:  # type: ignore[override]
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Nothing to do."""

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._text.fileno()

    def close(self) -> None:
        """Ignored."""
