"""The :class:`form` element: several elements behind one submit button.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lifecycle.ui.base import UIElement
from lifecycle.ui.buttons import button
from lifecycle.ui.progress_bar import progress


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
