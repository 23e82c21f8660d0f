"""Elements that edit one value: :class:`slider`, :class:`number`, :class:`text`,
:class:`text_area`, :class:`checkbox` and :class:`date`.
"""

from __future__ import annotations

import datetime as _dt
import numbers
from typing import Any

from lifecycle.ui.base import UIElement
from lifecycle.ui.values import _check_number

# ------------------------------------------------------------------------------ numbers


class slider(UIElement):
    """A numeric slider.

    Args:
        start, stop: the range (inclusive).
        step: increment (default 1).
        value: initial value (default ``start``).
        label: text beside the slider.

    The frontend sends a number; ``.value`` is an ``int`` when ``start`` and ``step`` are
    integers and the number is integral.

    Raises:
        ValueError: ``stop < start`` or ``step <= 0``; (convert) a value outside the range
            or NaN.
        TypeError: (convert) not a number.
    """

    kind = "slider"

    def __init__(
        self,
        start: float,
        stop: float,
        step: float = 1,
        value: float | None = None,
        *,
        label: str = "",
    ) -> None:
        if stop < start:
            raise ValueError(f"slider: stop ({stop}) is below start ({start})")
        if step <= 0:
            raise ValueError(f"slider: step must be positive, got {step}")
        self.start, self.stop, self.step = start, stop, step
        super().__init__(start if value is None else value, label=label, start=start, stop=stop, step=step)

    def convert(self, raw: Any) -> Any:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise TypeError(f"expected a number, got {type(raw).__name__}")
        if raw != raw or not self.start <= raw <= self.stop:
            raise ValueError(f"{raw!r} is outside [{self.start}, {self.stop}]")
        if all(isinstance(v, int) for v in (self.start, self.step)) and float(raw).is_integer():
            return int(raw)
        return raw


class number(UIElement):
    """A number input.

    Args:
        start, stop: inclusive bounds (``None``: unbounded on that side).
        step: the input's increment (``None``: any number); a hint for the frontend.
        value: initial value (default ``start``, else 0).
        label: text beside the input.

    The frontend sends a number.  ``.value`` is an ``int`` when the number is integral and
    neither ``start`` nor ``step`` is a float, else the number as sent.

    Raises:
        TypeError: a bound, step or value that is not a number; (convert) not a number.
        ValueError: ``stop < start``, ``step <= 0``, NaN/infinite arguments, an initial value
            out of range; (convert) NaN, infinite or out of range.
    """

    kind = "number"

    def __init__(
        self,
        start: float | None = None,
        stop: float | None = None,
        step: float | None = None,
        value: float | None = None,
        *,
        label: str = "",
    ) -> None:
        for what, arg in (("start", start), ("stop", stop), ("step", step)):
            if arg is not None:
                _check_number(arg, f"number {what}")
        if start is not None and stop is not None and stop < start:
            raise ValueError(f"number: stop ({stop}) is below start ({start})")
        if step is not None and step <= 0:
            raise ValueError(f"number: step must be positive, got {step}")
        self.start, self.stop, self.step = start, stop, step
        initial = self.convert(value if value is not None else (start if start is not None else 0))
        super().__init__(initial, label=label, start=start, stop=stop, step=step)

    def convert(self, raw: Any) -> Any:
        _check_number(raw)
        if self.start is not None and raw < self.start:
            raise ValueError(f"{raw!r} is below the minimum {self.start}")
        if self.stop is not None and raw > self.stop:
            raise ValueError(f"{raw!r} is above the maximum {self.stop}")
        if isinstance(raw, numbers.Integral):
            return int(raw)
        floats = any(isinstance(v, float) for v in (self.start, self.step))
        if not floats and float(raw).is_integer():
            return int(raw)
        return raw


# --------------------------------------------------------------------------------- text


class text(UIElement):
    """A single-line text input.

    Args:
        value: initial text.
        placeholder: greyed hint shown while empty.
        max_length: the longest text accepted (``None``: no limit).
        label: text beside the input.

    The frontend sends a ``str``; ``.value`` is that ``str``.

    Raises:
        TypeError: (convert) not a ``str``; a non-``str`` initial value or placeholder.
        ValueError: ``max_length < 0``; (convert) longer than ``max_length``.
    """

    kind = "text"

    def __init__(
        self,
        value: str = "",
        *,
        placeholder: str = "",
        max_length: int | None = None,
        label: str = "",
        _props: dict[str, Any] | None = None,
    ) -> None:
        if max_length is not None and (not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 0):
            raise ValueError(f"{self.kind}: max_length must be a non-negative int, got {max_length!r}")
        if not isinstance(placeholder, str):
            raise TypeError(f"{self.kind}: placeholder must be a str, got {type(placeholder).__name__}")
        self.max_length = max_length
        super().__init__(
            self.convert(value), label=label, placeholder=placeholder, max_length=max_length, **(_props or {})
        )

    def convert(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            raise TypeError(f"expected a str, got {type(raw).__name__}")
        if self.max_length is not None and len(raw) > self.max_length:
            raise ValueError(f"text of {len(raw)} characters is longer than max_length={self.max_length}")
        return raw


class text_area(text):
    """A multi-line text input: :class:`text` plus ``rows``, the visible height in lines.

    Raises:
        ValueError: ``rows < 1``, and as :class:`text`.
    """

    kind = "text_area"

    def __init__(
        self,
        value: str = "",
        *,
        placeholder: str = "",
        max_length: int | None = None,
        rows: int = 4,
        label: str = "",
    ) -> None:
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise ValueError(f"text_area: rows must be a positive int, got {rows!r}")
        super().__init__(value, placeholder=placeholder, max_length=max_length, label=label, _props={"rows": rows})


class checkbox(UIElement):
    """A checkbox.

    Args:
        value: initially checked.
        label: text beside the box.

    The frontend sends ``true``/``false``; ``.value`` is a ``bool``.

    Raises:
        TypeError: (convert) anything but a ``bool`` (``0``/``1`` included).
    """

    kind = "checkbox"

    def __init__(self, value: bool = False, *, label: str = "") -> None:
        super().__init__(self.convert(value), label=label)

    def convert(self, raw: Any) -> Any:
        if not isinstance(raw, bool):
            raise TypeError(f"expected a bool, got {type(raw).__name__}")
        return raw


# --------------------------------------------------------------------------------- date


def _to_date(value: Any, what: str) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{what}: {value!r} is not an ISO date (YYYY-MM-DD)") from None
    raise TypeError(f"{what}: expected a date or an ISO date string, got {type(value).__name__}")


class date(UIElement):
    """A date picker.

    Args:
        value: the initial date (a :class:`datetime.date` or ISO ``"YYYY-MM-DD"`` string;
            default: today, moved into ``[start, stop]``).
        start, stop: inclusive bounds (dates or ISO strings; ``None``: unbounded).
        label: text beside the picker.

    The frontend sends an ISO date string; ``.value`` is a :class:`datetime.date`.
    ``element.value = x`` takes a date, a datetime (its date) or an ISO string.

    Raises:
        TypeError: (convert) not a ``str``; arguments that are not dates or strings.
        ValueError: ``stop < start``, an initial value out of range; (convert) not an ISO
            date, or out of range.
    """

    kind = "date"

    def __init__(
        self,
        value: _dt.date | str | None = None,
        *,
        start: _dt.date | str | None = None,
        stop: _dt.date | str | None = None,
        label: str = "",
    ) -> None:
        self.start = None if start is None else _to_date(start, "date start")
        self.stop = None if stop is None else _to_date(stop, "date stop")
        if self.start is not None and self.stop is not None and self.stop < self.start:
            raise ValueError(f"date: stop ({self.stop}) is before start ({self.start})")
        self._value_arg = value
        if value is None:
            initial = _dt.date.today()
            if self.start is not None and initial < self.start:
                initial = self.start
            if self.stop is not None and initial > self.stop:
                initial = self.stop
        else:
            initial = self.coerce(value)
        super().__init__(
            initial,
            label=label,
            start=None if self.start is None else self.start.isoformat(),
            stop=None if self.stop is None else self.stop.isoformat(),
        )

    def _make_args_key(self, value: Any) -> Any:
        # The arguments, not today's date: ``ui.date()`` keeps its value across midnight.
        return super()._make_args_key(self._value_arg)

    def _check_range(self, day: _dt.date) -> _dt.date:
        if self.start is not None and day < self.start:
            raise ValueError(f"{day.isoformat()} is before the first allowed date {self.start.isoformat()}")
        if self.stop is not None and day > self.stop:
            raise ValueError(f"{day.isoformat()} is after the last allowed date {self.stop.isoformat()}")
        return day

    def convert(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            raise TypeError(f"expected an ISO date string, got {type(raw).__name__}")
        return self._check_range(_to_date(raw, "date"))

    def coerce(self, value: Any) -> Any:
        return self._check_range(_to_date(value, "date"))

    def wire_value(self) -> Any:
        return self._value.isoformat()
