"""The base of UI elements: :class:`UIElement` (ids, values, display) and :data:`UI_MIME`.

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
"""

from __future__ import annotations

import html as html_mod
import json
from typing import Any, ClassVar

from lifecycle import context as context_mod
from lifecycle.ui.registry import NO_VALUE, RegisteredElement, registry_for
from lifecycle.ui.values import _check_label

UI_MIME = "application/vnd.amphikernel.ui+json"
"""MIME type of a UI element's display data."""

class UIElement(RegisteredElement):
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
