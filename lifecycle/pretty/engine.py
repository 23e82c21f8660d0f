"""The layout engine of the pretty printer: text, break opportunities and groups.

The layout engine is a streaming, group-based line breaker (Oppen style): text is buffered
after the first pending break opportunity; when the current line would exceed ``max_width``,
the outermost group that still has pending break opportunities is broken (all its remaining
opportunities become newlines), and so on until the line fits or nothing can be broken.

:class:`LayoutPrinter` is that engine; :class:`lifecycle.pretty.core.PrettyPrinter` adds the
choice of a printer per object.  Standard library only.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["DEFAULT_MAX_SEQ_LENGTH", "DEFAULT_MAX_WIDTH", "LayoutPrinter"]

DEFAULT_MAX_WIDTH = 79
"""Line width (characters) Jupyter's ``text/plain`` formatter uses."""

DEFAULT_MAX_SEQ_LENGTH = 1000
"""Items shown per container before ``...`` (IPython's default)."""


class _Group:
    """A level of nesting; its break opportunities are broken all together or not at all."""

    __slots__ = ("broken", "depth", "pending")

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.broken = False
        self.pending: collections.deque[_Break] = collections.deque()


class _Text:
    """Buffered text: a run of strings with their total width."""

    __slots__ = ("parts", "width")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.width = 0

    def emit(self, printer: LayoutPrinter, column: int) -> int:
        printer._chunks.extend(self.parts)
        return column + self.width


class _Break:
    """A buffered break opportunity: ``sep`` if its group stays flat, else a newline."""

    __slots__ = ("group", "indentation", "sep", "width")

    def __init__(self, sep: str, group: _Group, indentation: int) -> None:
        self.sep = sep
        self.width = len(sep)
        self.group = group
        self.indentation = indentation

    def emit(self, printer: LayoutPrinter, column: int) -> int:
        group = self.group
        group.pending.popleft()
        if group.broken:
            printer._chunks.append(printer.newline + " " * self.indentation)
            return self.indentation
        if not group.pending:
            printer._forget(group)
        printer._chunks.append(self.sep)
        return column + self.width


class LayoutPrinter:
    """The line breaker behind :class:`lifecycle.pretty.core.PrettyPrinter` (which documents
    the arguments and attributes); :meth:`pretty` is left to that subclass."""

    def __init__(
        self,
        max_width: int = DEFAULT_MAX_WIDTH,
        *,
        max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
        newline: str = "\n",
        verbose: bool = False,
    ) -> None:
        self.max_width = max_width
        self.max_seq_length = max_seq_length
        self.newline = newline
        self.verbose = verbose
        self.output_width = 0
        self.buffer_width = 0
        self.indentation = 0
        self.stack: list[int] = []
        self._chunks: list[str] = []
        self._buffer: collections.deque[_Text | _Break] = collections.deque()
        root = _Group(0)
        self._open: list[_Group] = [root]
        self._levels: list[list[_Group]] = [[root]]

    # -- output ---------------------------------------------------------------------

    def getvalue(self) -> str:
        """Everything written so far (call :meth:`flush` first to include buffered text)."""
        return "".join(self._chunks)

    def text(self, obj: str) -> None:
        """Write ``obj`` (a string without newlines) at the current position."""
        if not isinstance(obj, str):
            obj = str(obj)
        width = len(obj)
        if not self._buffer:
            self._chunks.append(obj)
            self.output_width += width
            return
        last = self._buffer[-1]
        if not isinstance(last, _Text):
            last = _Text()
            self._buffer.append(last)
        last.parts.append(obj)
        last.width += width
        self.buffer_width += width
        self._fit()

    def breakable(self, sep: str = " ") -> None:
        """A break opportunity: ``sep`` if the enclosing group fits on the line, else a newline
        followed by the current indentation."""
        group = self._open[-1]
        if group.broken:
            self._newline()
            return
        brk = _Break(sep, group, self.indentation)
        group.pending.append(brk)
        self._buffer.append(brk)
        self.buffer_width += brk.width
        self._fit()

    def break_(self) -> None:
        """An unconditional line break (at the current indentation).

        It also breaks the outermost group that still has pending break opportunities, so a
        multi-line item forces its container onto several lines, as in IPython.
        """
        group = self._next_group_to_break()
        if group is not None:
            self._break_group(group)
        self._newline()

    def flush(self) -> None:
        """Write out everything buffered (pending break opportunities stay flat)."""
        column = self.output_width
        for item in self._buffer:
            column = item.emit(self, column)
        self._buffer.clear()
        self.output_width = column
        self.buffer_width = 0

    # -- groups ---------------------------------------------------------------------

    def begin_group(self, indent: int = 0, open: str = "") -> None:
        """Open a group: write ``open``, then nest; line breaks inside get ``indent`` more columns.

        Prefer the :meth:`group` context manager.
        """
        if open:
            self.text(open)
        group = _Group(self._open[-1].depth + 1)
        self._open.append(group)
        while len(self._levels) <= group.depth:
            self._levels.append([])
        self._levels[group.depth].append(group)
        self.indentation += indent

    def end_group(self, dedent: int = 0, close: str = "") -> None:
        """Close the innermost group (undoing ``dedent`` columns of indentation), then write
        ``close``."""
        self.indentation -= dedent
        group = self._open.pop()
        if not group.pending:
            self._forget(group)
        if close:
            self.text(close)

    @contextlib.contextmanager
    def group(self, indent: int = 0, open: str = "", close: str = "") -> Iterator[None]:
        """Context manager: ``begin_group(indent, open)`` ... ``end_group(indent, close)``."""
        self.begin_group(indent, open)
        try:
            yield
        finally:
            self.end_group(indent, close)

    @contextlib.contextmanager
    def indent(self, indent: int) -> Iterator[None]:
        """Context manager: line breaks inside get ``indent`` more columns of indentation."""
        self.indentation += indent
        try:
            yield
        finally:
            self.indentation -= indent

    def enumerate_limited(self, seq: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        """``enumerate(seq)`` stopping after :attr:`max_seq_length` items, after which it writes
        ``,`` + break opportunity + ``...`` (the container printers' item limit)."""
        for index, item in enumerate(seq):
            if self.max_seq_length and index >= self.max_seq_length:
                self.text(",")
                self.breakable()
                self.text("...")
                return
            yield index, item

    _enumerate = enumerate_limited  # the name IPython's printers (and some user code) use

    def pretty(self, obj: Any) -> None:
        """Print ``obj`` at the current position (implemented by ``PrettyPrinter``)."""
        raise NotImplementedError

    # -- engine internals -----------------------------------------------------------

    def _newline(self) -> None:
        self.flush()
        self._chunks.append(self.newline + " " * self.indentation)
        self.output_width = self.indentation
        self.buffer_width = 0

    def _forget(self, group: _Group) -> None:
        """Take ``group`` out of the break queue (no-op when it is not there)."""
        with contextlib.suppress(ValueError, IndexError):
            self._levels[group.depth].remove(group)

    def _next_group_to_break(self) -> _Group | None:
        """Mark and return the group to break: the shallowest level that has a group with
        pending break opportunities, the most recently opened such group of that level.

        Levels passed on the way (no pending opportunities) are cleared, and their groups,
        including still-open ones, marked broken, so their future break opportunities become
        newlines.  Bookkeeping quirk reproduced from IPython for identical layouts: the entry
        removed from the level is the one at the chosen group's position counted from the
        *start* of the level, not necessarily the chosen group itself.
        """
        for level in self._levels:
            count = len(level)
            for offset in range(count):
                group = level[count - 1 - offset]
                if group.pending:
                    del level[offset]
                    group.broken = True
                    return group
            for group in level:
                group.broken = True
            level.clear()
        return None

    def _break_group(self, group: _Group) -> None:
        """Write out the buffer up to ``group``'s last pending break (now newlines) and any
        text right after it."""
        column = self.output_width
        while group.pending:
            item = self._buffer.popleft()
            column = item.emit(self, column)
            self.buffer_width -= item.width
        while self._buffer and isinstance(self._buffer[0], _Text):
            item = self._buffer.popleft()
            column = item.emit(self, column)
            self.buffer_width -= item.width
        self.output_width = column

    def _fit(self) -> None:
        while self.output_width + self.buffer_width > self.max_width:
            group = self._next_group_to_break()
            if group is None:
                return
            self._break_group(group)
