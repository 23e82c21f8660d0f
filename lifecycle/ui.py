"""UI elements for notebook authors: ``from lifecycle import ui``.

An element displayed in a cell renders in the frontend as a custom element bound to the
kernel (MIME type :data:`UI_MIME`: JSON with ``id``, ``kind``, ``props`` and ``value``).
Assign it to a global; when the reader changes it, ``.value`` reflects the new value and the
cells that read that global re-run.  ``element.value = x`` in a cell updates the page (a
``ui-element-value`` notification).

Elements: :class:`slider`, :class:`number`, :class:`text`, :class:`text_area`,
:class:`checkbox`, :class:`dropdown`, :class:`radio`, :class:`button`, :class:`date`,
:class:`file`, :class:`table`, :class:`form` (batches several elements behind a submit
button) and :class:`progress` (a bar a long-running cell updates).

Values travel in two forms:

* the *wire* form (:meth:`UIElement.wire_value`, the ``value`` of the mimebundle and of
  ``ui-element-value``; what the frontend sends in ``update-ui-element``): JSON/msgpack
  friendly (a date is an ISO string, a dropdown choice is its label, a table selection is a
  list of row indices);
* the *Python* form (``.value``): a :class:`datetime.date`, the option's value, the selected
  rows...

:meth:`UIElement.convert` turns a wire value from the frontend into the Python form and
raises :class:`TypeError`/:class:`ValueError` for values the element does not accept (the
registry then applies nothing of that update).  :meth:`UIElement.coerce` validates a value
assigned in Python (``element.value = x``).

Everything here is stdlib + msgspec, so it runs inside Pyodide.
"""

from __future__ import annotations

import datetime as _dt
import html as html_mod
import json
import math
import numbers
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Literal

from lifecycle import context as context_mod
from lifecycle.ui_registry import NO_VALUE, UIRegistry

UI_MIME = "application/vnd.amphikernel.ui+json"
"""MIME type of a UI element's display data."""

__all__ = [
    "UI_MIME",
    "TableSelection",
    "UIElement",
    "UploadedFile",
    "button",
    "checkbox",
    "date",
    "dropdown",
    "file",
    "form",
    "number",
    "progress",
    "radio",
    "slider",
    "table",
    "text",
    "text_area",
]


def registry_for(ctx: context_mod.KernelContext | None) -> UIRegistry | None:
    """The UI registry of a kernel context (``None`` outside a kernel)."""
    if ctx is None:
        return None
    return ctx.extensions.get("ui")


# ----------------------------------------------------------------------------- helpers


def _is_real(value: Any) -> bool:
    """A real number that is not a ``bool``."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_label(label: Any) -> str:
    if not isinstance(label, str):
        raise TypeError(f"label must be a str, got {type(label).__name__}")
    return label


def _clean_str(text: str) -> str:
    """``text`` with lone surrogates replaced, so it encodes as UTF-8 (msgpack ``str``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _safe_repr(value: Any) -> str:
    try:
        return _clean_str(repr(value))
    except Exception as exc:
        return f"<repr failed: {type(exc).__name__}>"


def _json_safe(value: Any) -> Any:
    """A JSON scalar for ``value``: ``None``, ``bool``, 64-bit ``int``, finite ``float`` and
    ``str`` as they are (integers and floats of other types converted), anything else
    (including NaN, infinities, containers) as its ``repr``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, numbers.Integral):
        as_int = int(value)
        return as_int if -(2**63) <= as_int < 2**64 else repr(as_int)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else repr(float(value))
    return _safe_repr(value)


def _is_json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _code_key(code: types.CodeType) -> tuple[Any, ...]:
    consts = tuple(_code_key(c) if isinstance(c, types.CodeType) else _safe_repr(c) for c in code.co_consts)
    return (code.co_name, code.co_code, consts, code.co_names)


def _callable_key(fn: Callable[..., Any] | None) -> Any:
    """A key equal for two definitions of the same function (the same code), so an element
    whose callback is re-created by a re-run keeps its value; ``repr`` for other callables."""
    if fn is None:
        return None
    func = getattr(fn, "__func__", fn)
    code = getattr(func, "__code__", None)
    if isinstance(code, types.CodeType):
        return (getattr(func, "__qualname__", ""), _code_key(code))
    return _safe_repr(fn)


def _check_number(raw: Any, what: str = "value") -> float:
    """``raw`` if it is a finite real number.

    Raises:
        TypeError: not a number (``bool`` is not a number here).
        ValueError: NaN or infinite.
    """
    if not _is_real(raw):
        raise TypeError(f"{what}: expected a number, got {type(raw).__name__}")
    if not math.isfinite(raw):
        raise ValueError(f"{what}: {raw!r} is not a finite number")
    return raw


# ---------------------------------------------------------------------------- the base


class UIElement:
    """Base class of UI elements.

    Args:
        value: the initial value (Python form).
        label: text shown beside the element.
        props: JSON-serialisable properties the frontend renders from.

    Subclasses set :attr:`kind` and override :meth:`convert` (frontend values),
    :meth:`wire_value` (values sent to the frontend) and, where the Python form differs from
    the wire form, :meth:`coerce` (values assigned in Python).

    Attributes:
        element_id: ``"<cell id>/<n>"`` for the ``n``-th element created by a cell run
            (stable across re-runs), ``"free/<n>"`` outside a cell, ``"detached/..."``
            outside a kernel.
        args_key: equal for two elements created with equal arguments; a re-created element
            with the same id and ``args_key`` keeps the value the reader last set.
        parent: the :class:`form` this element belongs to, else ``None``.
    """

    kind: ClassVar[str] = "element"

    def __init__(self, value: Any, *, label: str = "", **props: Any) -> None:
        self.label = _check_label(label)
        self.props: dict[str, Any] = {"label": label, **props}
        self.parent: UIElement | None = None
        self.args_key = self._make_args_key(value)
        registry = registry_for(context_mod.current_or_none())
        self._registry = registry
        restored = NO_VALUE
        if registry is not None:
            self.element_id, restored = registry.new_id(self.args_key)
        else:
            self.element_id = f"detached/{id(self):x}"
        self._value = value if restored is NO_VALUE else self._restore(restored, value)
        if registry is not None:
            registry.add(self)

    # ------------------------------------------------------------------ identity
    def _alive(self) -> bool:
        """Whether this element is still in use: registered in its kernel (not replaced by a
        re-run of its cell, not deleted), or detached from any kernel."""
        return self._registry is None or self._registry.elements.get(self.element_id) is self

    def _make_args_key(self, value: Any) -> Any:
        """The :attr:`args_key` for these props and initial ``value``."""
        key: tuple[Any, ...] = (self.kind, json.dumps(self.props, sort_keys=True, default=repr), repr(value))
        extra = self._key_extra()
        return key if extra is None else (*key, extra)

    def _key_extra(self) -> Any:
        """Arguments that matter but are not in :attr:`props` (e.g. option values)."""
        return None

    def _restore(self, previous: Any, initial: Any) -> Any:
        """The value to start from, given the value ``previous`` of the element this one
        replaces (same id, same arguments) and the ``initial`` value."""
        return previous

    # ------------------------------------------------------------------ value
    @property
    def value(self) -> Any:
        """The element's current value (Python form).

        Setting it (in a cell) validates with :meth:`coerce` and sends a
        ``ui-element-value`` notification so the page shows it.

        Raises:
            TypeError, ValueError: (on set) the value is not acceptable; nothing changes.
        """
        return self._value

    @value.setter
    def value(self, new: Any) -> None:
        self._store(self.coerce(new))
        if self._registry is not None:
            self._registry.value_changed(self)

    def convert(self, raw: Any) -> Any:
        """Validate a value from the frontend (wire form) and convert it to the Python form.

        Raises:
            TypeError, ValueError: the value is not acceptable (nothing changes).
        """
        return raw

    def coerce(self, value: Any) -> Any:
        """Validate a value assigned in Python (``element.value = x``); by default the same
        rules as :meth:`convert`.

        Raises:
            TypeError, ValueError: the value is not acceptable (nothing changes).
        """
        return self.convert(value)

    def wire_value(self) -> Any:
        """The value as sent to the frontend (JSON/msgpack-friendly)."""
        return self._value

    def _store(self, value: Any) -> None:
        """Store an already validated value (Python form)."""
        self._value = value

    def _set_from_frontend(self, value: Any) -> None:
        """Called by the registry with the result of :meth:`convert`."""
        self._store(value)

    # ---------------------------------------------------------------- display
    def render_props(self) -> dict[str, Any]:
        """The props as rendered now (JSON-serialisable); :attr:`props` by default."""
        return self.props

    def spec(self) -> dict[str, Any]:
        """``{"id", "kind", "props", "value"}``: what the frontend renders the element from."""
        return {"id": self.element_id, "kind": self.kind, "props": self.render_props(), "value": self.wire_value()}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        label = html_mod.escape(self.label)
        return {
            UI_MIME: self.spec(),
            "text/html": (
                f'<amphi-ui data-id="{html_mod.escape(self.element_id)}" '
                f'data-kind="{html_mod.escape(self.kind)}">{label}</amphi-ui>'
            ),
            "text/plain": repr(self),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(value={self._value!r})"


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


# ------------------------------------------------------------------------------ choices


def _options(options: Any, kind: str) -> dict[str, Any]:
    """label -> value from a list of labels (values are the items) or a mapping."""
    if isinstance(options, Mapping):
        items = [(str(k), v) for k, v in options.items()]
    elif isinstance(options, (str, bytes)) or not isinstance(options, Iterable):
        raise TypeError(f"{kind}: options must be a list of labels or a dict label -> value, got {type(options).__name__}")
    else:
        items = [(o if isinstance(o, str) else str(o), o) for o in options]
    mapping: dict[str, Any] = {}
    for label, value in items:
        if label in mapping:
            raise ValueError(f"{kind}: duplicate option label {label!r}")
        mapping[_clean_str(label)] = value
    return mapping


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:
        return False


class _Choice(UIElement):
    """Shared by :class:`dropdown` and :class:`radio`."""

    def __init__(self, options: Any, value: Any = None, *, label: str = "", **props: Any) -> None:
        self.options = _options(options, self.kind)
        initial = None
        if value is not None:
            if isinstance(value, str) and value in self.options:
                initial = self.options[value]
            else:
                initial = self._by_value(value)
        super().__init__(initial, label=label, options=list(self.options), **props)

    def _by_value(self, value: Any) -> Any:
        for option in self.options.values():
            if _same(option, value):
                return option
        raise ValueError(f"{value!r} is not one of the options {list(self.options)!r}")

    def _key_extra(self) -> Any:
        return _safe_repr(list(self.options.values()))

    def _restore(self, previous: Any, initial: Any) -> Any:
        if previous is None:
            return None
        try:
            return self._by_value(previous)
        except ValueError:
            return initial

    def convert(self, raw: Any) -> Any:
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise TypeError(f"expected an option label (str) or null, got {type(raw).__name__}")
        if raw not in self.options:
            raise ValueError(f"{raw!r} is not one of the options {list(self.options)!r}")
        return self.options[raw]

    def coerce(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self._by_value(value)
        except ValueError:
            if isinstance(value, str) and value in self.options:
                return self.options[value]
            raise

    def wire_value(self) -> Any:
        if self._value is None:
            return None
        for label, option in self.options.items():
            if option is self._value:
                return label
        for label, option in self.options.items():
            if _same(option, self._value):
                return label
        return None


class dropdown(_Choice):
    """A drop-down list.

    Args:
        options: a list of labels (non-``str`` items are shown as ``str(item)`` and keep
            their value), or a dict label -> value.
        value: the option selected at first, as its label (or, when it is not a label, as
            its value); ``None``: nothing selected.
        label: text beside the list.

    The frontend sends the selected label (or ``null`` for none); ``.value`` is the mapped
    value (``None`` for none).  ``element.value = x`` takes an option value (or, failing
    that, a label).  Two labels mapping to equal values show as the first of them.

    Raises:
        TypeError: options neither a list nor a dict; (convert) not a ``str``/``null``.
        ValueError: duplicate labels, an initial value that is no option; (convert) a label
            that is not an option.
    """

    kind = "dropdown"

    def __init__(self, options: Any, value: Any = None, *, label: str = "") -> None:
        super().__init__(options, value, label=label)


class radio(_Choice):
    """A group of radio buttons: :class:`dropdown` with every option visible.

    Args:
        options, value, label: as :class:`dropdown`.
        inline: lay the buttons out in a row instead of a column.
    """

    kind = "radio"

    def __init__(self, options: Any, value: Any = None, *, label: str = "", inline: bool = False) -> None:
        super().__init__(options, value, label=label, inline=bool(inline))


# ------------------------------------------------------------------------------- button


class button(UIElement):
    """A button whose value changes on every click.

    Args:
        value: the initial value.  Without ``on_click`` it must be an ``int`` (default 0):
            the value counts the clicks.
        on_click: ``new_value = on_click(current_value)`` on each click.
        label: the button's text.

    Each click arrives as an ``update-ui-element`` for the button (any payload, e.g. the
    page's click counter; the payload is ignored).  Clicks merged into one batch by the
    control loop count once.  Cells that read the button re-run on each click.  The wire
    value is the value when it is a JSON scalar, else ``null``.

    Raises:
        TypeError: no ``on_click`` and a non-``int`` ``value``; ``on_click`` not callable.
        ValueError: (convert) ``on_click`` raised (the message names its exception).
    """

    kind = "button"

    def __init__(
        self, value: Any = None, on_click: Callable[[Any], Any] | None = None, label: str = ""
    ) -> None:
        if on_click is not None and not callable(on_click):
            raise TypeError(f"button: on_click must be callable, got {type(on_click).__name__}")
        if on_click is None:
            value = 0 if value is None else value
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"button: without on_click the value counts clicks and must be an int, got {value!r}")
        self.on_click = on_click
        super().__init__(value, label=label)

    def _key_extra(self) -> Any:
        return _callable_key(self.on_click)

    def convert(self, raw: Any) -> Any:
        if self.on_click is None:
            return self._value + 1
        try:
            return self.on_click(self._value)
        except Exception as exc:
            raise ValueError(f"on_click raised {type(exc).__name__}: {exc}") from exc

    def coerce(self, value: Any) -> Any:
        return value

    def wire_value(self) -> Any:
        value = self._value
        if _is_json_scalar(value) and not (isinstance(value, float) and not math.isfinite(value)):
            return _json_safe(value)
        return None


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


# --------------------------------------------------------------------------------- file


class UploadedFile:
    """A file the reader uploaded through :class:`file`.

    Attributes:
        name: the file's name (no directory).
        contents: its bytes.
        mimetype: its MIME type as the browser reported it (may be ``""``).
    """

    __slots__ = ("contents", "mimetype", "name")

    def __init__(self, name: str, contents: bytes, mimetype: str = "") -> None:
        self.name = name
        self.contents = contents
        self.mimetype = mimetype

    @property
    def size(self) -> int:
        """Length of :attr:`contents` in bytes."""
        return len(self.contents)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UploadedFile):
            return NotImplemented
        return (self.name, self.contents, self.mimetype) == (other.name, other.contents, other.mimetype)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"UploadedFile(name={self.name!r}, size={self.size}, mimetype={self.mimetype!r})"


class file(UIElement):
    """A file upload button.

    Args:
        accept: allowed file types: extensions (``".csv"``) and MIME types (``"text/csv"``,
            ``"image/*"``); a str or a list; ``None``: any file.
        multiple: allow several files at once.
        max_size: the largest file accepted, in bytes (``None``: no limit).
        label: the button's text.

    The frontend sends a list of ``{"name": str, "contents": bytes, "type": str}`` (msgpack
    ``bin``; ``type`` may be omitted); ``.value`` is a list of :class:`UploadedFile` (empty
    until the reader uploads).  The wire value sent back lists ``{"name", "type", "size"}``
    only, never the contents.  ``element.value = x`` takes a list of :class:`UploadedFile`
    or of dicts as the frontend sends them.

    Raises:
        TypeError: (convert) not a list of such dicts, a name that is not a ``str``,
            contents that are not bytes.
        ValueError: ``max_size < 0``; (convert) several files when ``multiple`` is false, a
            file over ``max_size``, a file whose name/type matches nothing in ``accept``.
    """

    kind = "file"

    def __init__(
        self,
        *,
        accept: str | list[str] | None = None,
        multiple: bool = False,
        max_size: int | None = None,
        label: str = "Upload",
    ) -> None:
        if isinstance(accept, str):
            accept = [accept]
        if accept is not None and not all(isinstance(a, str) for a in accept):
            raise TypeError("file: accept must be a str or a list of str")
        if max_size is not None and (not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 0):
            raise ValueError(f"file: max_size must be a non-negative int, got {max_size!r}")
        self.accept = [a.strip().lower() for a in accept] if accept else []
        self.multiple = bool(multiple)
        self.max_size = max_size
        super().__init__([], label=label, accept=self.accept, multiple=self.multiple, max_size=max_size)

    def _accepted(self, upload: UploadedFile) -> bool:
        if not self.accept:
            return True
        name, mimetype = upload.name.lower(), upload.mimetype.lower()
        for pattern in self.accept:
            if pattern.startswith("."):
                if name.endswith(pattern):
                    return True
            elif pattern.endswith("/*"):
                if mimetype.startswith(pattern[:-1]):
                    return True
            elif mimetype == pattern:
                return True
        return False

    def _one(self, item: Any, index: int) -> UploadedFile:
        if isinstance(item, UploadedFile):
            upload = item
        elif isinstance(item, Mapping):
            name, contents, mimetype = item.get("name"), item.get("contents"), item.get("type", "")
            if not isinstance(name, str):
                raise TypeError(f"file {index}: 'name' must be a str, got {type(name).__name__}")
            if not isinstance(contents, (bytes, bytearray, memoryview)):
                raise TypeError(f"file {index} ({name!r}): 'contents' must be bytes, got {type(contents).__name__}")
            if mimetype is None:
                mimetype = ""
            if not isinstance(mimetype, str):
                raise TypeError(f"file {index} ({name!r}): 'type' must be a str, got {type(mimetype).__name__}")
            upload = UploadedFile(name, bytes(contents), mimetype)
        else:
            raise TypeError(f"file {index}: expected a dict with name, contents, type; got {type(item).__name__}")
        if self.max_size is not None and upload.size > self.max_size:
            raise ValueError(f"{upload.name!r} is {upload.size} bytes, over max_size={self.max_size}")
        if not self._accepted(upload):
            raise ValueError(f"{upload.name!r} ({upload.mimetype or 'no type'}) is not one of {self.accept!r}")
        return upload

    def convert(self, raw: Any) -> Any:
        if not isinstance(raw, (list, tuple)):
            raise TypeError(f"expected a list of files, got {type(raw).__name__}")
        if len(raw) > 1 and not self.multiple:
            raise ValueError(f"{len(raw)} files sent to a single-file upload")
        return [self._one(item, i) for i, item in enumerate(raw)]

    def wire_value(self) -> Any:
        return [{"name": _clean_str(f.name), "type": f.mimetype, "size": f.size} for f in self._value]


# -------------------------------------------------------------------------------- table


class TableSelection(list):  # type: ignore[type-arg]
    """The selected rows of a :class:`table` (a ``list``), with their :attr:`indices`."""

    __slots__ = ("indices",)

    def __init__(self, rows: Iterable[Any] = (), indices: Iterable[int] = ()) -> None:
        super().__init__(rows)
        self.indices: list[int] = list(indices)


class table(UIElement):
    """A table whose rows the reader can select.

    Args:
        data: a list of rows (dicts column -> cell; other items are shown in one
            ``"value"`` column), or a dict column -> list of cells (equal lengths).
        selection: ``"multi"``, ``"single"`` or ``None`` (no selection).
        value: indices of the rows selected at first.
        page_size: rows per page in the frontend.
        label: caption.

    Props carry ``columns`` (str) and ``rows`` (lists of JSON-safe cells in column order;
    cells that are not JSON scalars are shown as their ``repr``).  The frontend sends the
    selected row indices; ``.value`` is a :class:`TableSelection`: the selected rows (the
    original objects; for a dict of columns, one dict per row), in the order sent.
    ``element.value = rows`` takes rows of this table.

    Raises:
        TypeError: ``data`` neither a list nor a dict, rows mixing dicts and other items;
            (convert) not a list of ints.
        ValueError: columns of unequal length, a bad ``selection`` or ``page_size``;
            (convert) an index out of range or repeated, several rows for ``"single"``, any
            row when ``selection`` is ``None``.
    """

    kind = "table"

    def __init__(
        self,
        data: Any,
        *,
        selection: Literal["single", "multi"] | None = "multi",
        value: list[int] | None = None,
        page_size: int = 10,
        label: str = "",
    ) -> None:
        if selection not in ("single", "multi", None):
            raise ValueError(f"table: selection must be 'single', 'multi' or None, got {selection!r}")
        if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
            raise ValueError(f"table: page_size must be a positive int, got {page_size!r}")
        self.selection = selection
        self.rows, keys = self._rows_of(data)
        columns = [_clean_str(k if isinstance(k, str) else str(k)) for k in keys]
        if len(set(columns)) != len(columns):
            raise ValueError(f"table: column names collide once converted to str: {columns!r}")
        if keys == ["value"] and self.rows and not isinstance(self.rows[0], Mapping):
            cells = [[_json_safe(row)] for row in self.rows]
        else:
            cells = [[_json_safe(row.get(k)) for k in keys] for row in self.rows]
        initial = self.convert(list(value) if value is not None else [])
        super().__init__(
            initial, label=label, columns=columns, rows=cells, selection=selection, page_size=page_size
        )

    @staticmethod
    def _rows_of(data: Any) -> tuple[list[Any], list[Any]]:
        if isinstance(data, Mapping):
            keys = list(data)
            columns = []
            for k in keys:
                column = data[k]
                if isinstance(column, (str, bytes)) or not isinstance(column, Iterable):
                    raise TypeError(f"table: column {k!r} must be a list of cells, got {type(column).__name__}")
                columns.append(list(column))
            lengths = {len(c) for c in columns}
            if len(lengths) > 1:
                raise ValueError(f"table: columns have different lengths {sorted(lengths)}")
            return [dict(zip(keys, cells)) for cells in zip(*columns)], keys
        if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
            raise TypeError(f"table: data must be a list of rows or a dict of columns, got {type(data).__name__}")
        rows = list(data)
        dict_rows = [isinstance(r, Mapping) for r in rows]
        if rows and all(dict_rows):
            keys: list[Any] = []
            seen: set[Any] = set()
            for row in rows:
                for k in row:
                    if k not in seen:
                        seen.add(k)
                        keys.append(k)
            return rows, keys
        if any(dict_rows):
            raise TypeError("table: rows mix dicts and other values")
        return rows, ["value"] if rows else []

    def _selection(self, indices: list[int]) -> TableSelection:
        return TableSelection([self.rows[i] for i in indices], indices)

    def _restore(self, previous: Any, initial: Any) -> Any:
        if isinstance(previous, TableSelection) and all(0 <= i < len(self.rows) for i in previous.indices):
            return self._selection(previous.indices)
        return initial

    def convert(self, raw: Any) -> Any:
        if not isinstance(raw, (list, tuple)):
            raise TypeError(f"expected a list of row indices, got {type(raw).__name__}")
        indices: list[int] = []
        for i in raw:
            if not isinstance(i, int) or isinstance(i, bool):
                raise TypeError(f"row index {i!r} is not an int")
            if not 0 <= i < len(self.rows):
                raise ValueError(f"row index {i} is out of range (the table has {len(self.rows)} rows)")
            if i in indices:
                raise ValueError(f"row index {i} is selected twice")
            indices.append(i)
        if self.selection is None and indices:
            raise ValueError("this table does not allow selecting rows")
        if self.selection == "single" and len(indices) > 1:
            raise ValueError(f"{len(indices)} rows selected in a single-selection table")
        return self._selection(indices)

    def coerce(self, value: Any) -> Any:
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise TypeError(f"expected a list of rows of this table, got {type(value).__name__}")
        indices: list[int] = []
        for row in value:
            found = next((i for i, r in enumerate(self.rows) if r is row and i not in indices), None)
            if found is None:
                found = next((i for i, r in enumerate(self.rows) if i not in indices and _same(r, row)), None)
            if found is None:
                raise ValueError(f"{row!r} is not a row of this table")
            indices.append(found)
        return self.convert(indices)

    def wire_value(self) -> Any:
        return list(self._value.indices)


# --------------------------------------------------------------------------------- form


class form(UIElement):
    """Several elements behind one submit button: nothing re-runs until the reader submits.

    Args:
        elements: one element, or a dict name -> element (names are ``str``).
        submit_label: the submit button's text.
        label: caption.

    The children render inside the form (props ``children``: ``{"key", "id", "kind",
    "props", "value"}`` each; ``key`` is ``None`` for a single element).  On submit the
    frontend sends, for the form's id, the single child's wire value, or a dict name -> wire
    value (missing names keep their current value).  Each child validates its own value;
    then the children take their new values and the form's ``.value`` becomes the child's
    value, or the dict name -> value, as of submission (``None`` before the first).  Cells
    reading the form re-run; a child never re-runs cells by itself, even one created in
    another cell and held in a global (an update addressed to a child changes the child and
    re-runs nothing).  The wire value is the children's wire values in the same shape
    (``null`` before the first submission).  An element belongs to one live form at a time.

    Raises:
        TypeError: a child that is not an element, or is a ``button``, ``progress`` or
            ``form``; a non-``str`` name; (convert) not a dict for a dict form.
        ValueError: no children, a child already in another form; (convert) unknown names,
            a child's value it rejects (message names the child).
    """

    kind = "form"

    def __init__(
        self,
        elements: UIElement | Mapping[str, UIElement],
        *,
        submit_label: str = "Submit",
        label: str = "",
    ) -> None:
        if isinstance(elements, UIElement):
            children: dict[str | None, UIElement] = {None: elements}
        elif isinstance(elements, Mapping):
            if not elements:
                raise ValueError("form: give at least one element")
            children = {}
            for key, child in elements.items():
                if not isinstance(key, str):
                    raise TypeError(f"form: element names must be str, got {key!r}")
                children[key] = child
        else:
            raise TypeError(f"form: expected an element or a dict of elements, got {type(elements).__name__}")
        for key, child in children.items():
            where = "" if key is None else f" {key!r}"
            if not isinstance(child, UIElement):
                raise TypeError(f"form: element{where} is a {type(child).__name__}, not a UI element")
            if isinstance(child, (button, progress, form)):
                raise TypeError(f"form: a {child.kind} cannot be part of a form")
            if child.parent is not None and child.parent._alive():
                raise ValueError(f"form: element{where} ({child.element_id}) already belongs to a form")
        if not isinstance(submit_label, str):
            raise TypeError(f"form: submit_label must be a str, got {type(submit_label).__name__}")
        self.children = children
        self.single = None in children
        super().__init__(
            None,
            label=label,
            submit_label=submit_label,
            children=[{"key": k, "kind": c.kind} for k, c in children.items()],
        )
        for child in children.values():
            child.parent = self

    def _key_extra(self) -> Any:
        return tuple((k, c.args_key) for k, c in self.children.items())

    def render_props(self) -> dict[str, Any]:
        return {
            **self.props,
            "children": [{"key": k, **c.spec()} for k, c in self.children.items()],
        }

    def convert(self, raw: Any) -> Any:
        if self.single:
            return self.children[None].convert(raw)
        if not isinstance(raw, Mapping):
            raise TypeError(f"expected a dict of {sorted(self.children)} (str) -> value, got {type(raw).__name__}")
        unknown = [k for k in raw if k not in self.children]
        if unknown:
            raise ValueError(f"unknown form fields {unknown!r} (fields: {list(self.children)!r})")
        values: dict[str, Any] = {}
        for key, child in self.children.items():
            assert key is not None
            if key in raw:
                try:
                    values[key] = child.convert(raw[key])
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"field {key!r} ({child.kind}): {exc}") from None
            else:
                values[key] = child.value
        return values

    def coerce(self, value: Any) -> Any:
        if self.single:
            return self.children[None].coerce(value)
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a dict of {sorted(self.children)} (str) -> value, got {type(value).__name__}")
        unknown = [k for k in value if k not in self.children]
        if unknown:
            raise ValueError(f"unknown form fields {unknown!r}")
        return {k: (c.coerce(value[k]) if k in value else c.value) for k, c in self.children.items() if k is not None}

    def _store(self, value: Any) -> None:
        registry = self._registry
        for key, child in self.children.items():
            child._store(value if key is None else value[key])
            if registry is not None and registry.elements.get(child.element_id) is child:
                registry.remember(child)
        self._value = dict(value) if isinstance(value, dict) and not self.single else value

    def wire_value(self) -> Any:
        if self._value is None:
            return None
        if self.single:
            return self.children[None].wire_value()
        return {k: c.wire_value() for k, c in self.children.items()}


# ----------------------------------------------------------------------------- progress


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
