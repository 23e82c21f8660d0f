"""UI elements for notebook authors: ``from lifecycle import ui``.

An element displayed in a cell renders in the frontend as a custom element bound to the
kernel (MIME type :data:`UI_MIME`: JSON with id, kind, props and value).  Assign it to a
global; when the reader changes it, ``.value`` reflects the new value and the cells that
read that global re-run.  ``element.value = x`` in a cell updates the page.
"""

from __future__ import annotations

import html as html_mod
import json
from typing import Any, ClassVar

from lifecycle import context as context_mod
from lifecycle.ui_registry import NO_VALUE, UIRegistry

UI_MIME = "application/vnd.amphikernel.ui+json"
"""MIME type of a UI element's display data."""

__all__ = ["UI_MIME", "UIElement", "slider"]


def registry_for(ctx: context_mod.KernelContext | None) -> UIRegistry | None:
    """The UI registry of a kernel context (``None`` outside a kernel)."""
    if ctx is None:
        return None
    return ctx.extensions.get("ui")


class UIElement:
    """Base class of UI elements.

    Args:
        value: the initial value.
        label: text shown beside the element.
        props: JSON-serialisable properties the frontend renders from.

    Subclasses set :attr:`kind` and override :meth:`convert` to validate frontend values.
    """

    kind: ClassVar[str] = "element"

    def __init__(self, value: Any, *, label: str = "", **props: Any) -> None:
        self.label = label
        self.props = {"label": label, **props}
        self.args_key = (self.kind, json.dumps(self.props, sort_keys=True, default=repr), repr(value))
        registry = registry_for(context_mod.current_or_none())
        self._registry = registry
        restored = NO_VALUE
        if registry is not None:
            self.element_id, restored = registry.new_id(self.args_key)
        else:
            self.element_id = f"detached/{id(self):x}"
        self._value = value if restored is NO_VALUE else restored
        if registry is not None:
            registry.add(self)

    # ------------------------------------------------------------------ value
    @property
    def value(self) -> Any:
        """The element's current value."""
        return self._value

    @value.setter
    def value(self, new: Any) -> None:
        self._value = self.convert(new)
        if self._registry is not None:
            self._registry.value_changed(self)

    def convert(self, raw: Any) -> Any:
        """Validate and convert a value from the frontend.

        Raises:
            TypeError, ValueError: the value is not acceptable (nothing changes).
        """
        return raw

    def wire_value(self) -> Any:
        """The value as sent to the frontend (JSON/msgpack-friendly)."""
        return self._value

    def _set_from_frontend(self, value: Any) -> None:
        self._value = value

    # ---------------------------------------------------------------- display
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        spec = {"id": self.element_id, "kind": self.kind, "props": self.props, "value": self.wire_value()}
        label = html_mod.escape(self.label)
        return {
            UI_MIME: spec,
            "text/html": f'<amphi-ui data-id="{html_mod.escape(self.element_id)}" data-kind="{self.kind}">{label}</amphi-ui>',
            "text/plain": repr(self),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(value={self._value!r})"


class slider(UIElement):
    """A numeric slider.

    Args:
        start, stop: the range (inclusive).
        step: increment (default 1).
        value: initial value (default ``start``).
        label: text beside the slider.
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
