"""Elements that pick one of several options: :class:`dropdown` and :class:`radio`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lifecycle.ui.base import UIElement
from lifecycle.ui.values import _clean_str, _safe_repr, _same


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
