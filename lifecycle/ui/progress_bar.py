"""The :class:`progress` element: a bar a long-running cell updates.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from lifecycle import context as context_mod
from lifecycle.ui.base import UIElement
from lifecycle.ui.values import _check_number, _is_real


class progress(UIElement):
    """A progress bar a running cell updates.

    Args:
        total: the count at completion (a number; ``None``: unknown), or an iterable to
            wrap: ``for x in ui.progress(items): ...`` advances by one per item (its
            ``len()`` is the total when it has one).
        label: text beside the bar.
        length: the total when ``total`` is an iterable without ``len()``.

    ``bar.update(n=1)`` advances the bar; ``bar.value`` is the count so far.  Updates send
    ``ui-element-value`` notifications rate-limited to one per :attr:`MIN_INTERVAL` seconds
    (20 per second); the value at completion (reaching ``total``, the end of an iteration,
    :meth:`flush`, leaving a ``with`` block, the end of the cell that updated it) is always
    sent.  Iterating displays the bar if it was not displayed yet.  The frontend cannot set
    it (:meth:`convert` rejects everything); re-running its cell restarts it at 0.

    Raises:
        TypeError: ``total`` neither a number nor an iterable; ``length`` with a number;
            (convert) always.
        ValueError: a negative, NaN or infinite total.
    """

    kind = "progress"
    MIN_INTERVAL: ClassVar[float] = 0.05
    """Seconds between two rate-limited notifications."""

    def __init__(
        self,
        total: float | Iterable[Any] | None = None,
        label: str = "",
        *,
        length: float | None = None,
    ) -> None:
        iterable: Iterable[Any] | None = None
        if total is not None and not _is_real(total):
            if isinstance(total, (str, bytes)) or not isinstance(total, Iterable):
                raise TypeError(f"progress: total must be a number or an iterable, got {type(total).__name__}")
            iterable = total
            total = length
            if total is None:
                try:
                    total = len(iterable)  # type: ignore[arg-type]
                except TypeError:
                    total = None
        elif length is not None:
            raise TypeError("progress: length is only for an iterable total")
        if total is not None:
            _check_number(total, "progress total")
            if total < 0:
                raise ValueError(f"progress: total must not be negative, got {total}")
        self.total = total
        self._iterable = iterable
        self._lock = threading.Lock()
        self._sent_at = -math.inf
        self._dirty = False
        self._final_sent = False
        self._flush_scheduled = False
        self._displayed = False
        super().__init__(0, label=label, total=total)

    def _restore(self, previous: Any, initial: Any) -> Any:
        return initial

    def convert(self, raw: Any) -> Any:
        raise TypeError("a progress bar is read-only: the frontend cannot set its value")

    def coerce(self, value: Any) -> Any:
        return _check_number(value, "progress value")

    def _store(self, value: Any) -> None:
        with self._lock:
            self._value = value
            self._dirty = False
            self._final_sent = self.total is not None and value >= self.total
            self._sent_at = time.monotonic()

    def _send(self) -> None:
        if self._registry is not None:
            self._registry.value_changed(self)

    def update(self, n: float = 1) -> None:
        """Advance the bar by ``n`` and notify the page if the rate limit allows.

        Raises:
            TypeError: ``n`` is not a number.
            ValueError: ``n`` is NaN or infinite.
        """
        _check_number(n, "progress step")
        with self._lock:
            self._value += n
            now = time.monotonic()
            done = self.total is not None and self._value >= self.total
            send = now - self._sent_at >= self.MIN_INTERVAL or (done and not self._final_sent)
            if send:
                self._sent_at = now
                self._dirty = False
                self._final_sent = done
            else:
                self._dirty = True
            schedule = not send and not self._flush_scheduled
        if send:
            self._send()
        elif schedule and self._registry is not None:
            self._flush_scheduled = self._registry.call_after_cell(
                f"progress:{self.element_id}", self._flush_after_cell
            )

    def _flush_after_cell(self) -> None:
        self._flush_scheduled = False
        self.flush()

    def flush(self) -> None:
        """Send the current value now if the page has not seen it yet."""
        with self._lock:
            if not self._dirty:
                return
            self._dirty = False
            self._sent_at = time.monotonic()
        self._send()

    def _show(self) -> None:
        if self._displayed:
            return
        ctx = context_mod.current_or_none()
        if ctx is None or ctx.cell_id is None:
            return
        from lifecycle.display import display

        display(self)

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the wrapped iterable, advancing by one after each item.

        Raises:
            TypeError: the bar was created from a number, not an iterable.
        """
        if self._iterable is None:
            raise TypeError("this progress bar wraps no iterable; use progress(iterable) or bar.update()")
        self._show()
        return self._iterate(self._iterable)

    def _iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        try:
            for item in iterable:
                yield item
                self.update(1)
        finally:
            self.flush()

    def __enter__(self) -> progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.flush()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        self._displayed = True
        return super()._repr_mimebundle_(include, exclude)

    def __repr__(self) -> str:
        return f"progress(value={self._value!r}, total={self.total!r})"
