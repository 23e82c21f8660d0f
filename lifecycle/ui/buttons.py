"""The :class:`button` element: a value that changes on every click.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lifecycle.ui.base import UIElement
from lifecycle.ui.values import _callable_key, _is_json_scalar, _json_safe


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
