"""Per-kernel registry of UI elements: ids, values, and which cells an update re-runs.

An element created while cell ``C`` runs gets the id ``C/<n>`` (its creation index in that
run), so re-running a cell gives its elements the same ids: the page keeps them (no flicker,
no lost focus), and an element re-created with the same arguments keeps the value the reader
last set.  After each cell run the registry records which globals of that cell hold an
element; an update to the element re-runs the cells that read those globals.  An update to an
element that belongs to a live form (``element.parent`` is a registered element) re-runs
nothing: only the form's submission re-runs cells.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from lifecycle import context as context_mod
from lifecycle import protocol

log = logging.getLogger("amphikernel.ui")

if TYPE_CHECKING:  # pragma: no cover
    from lifecycle.kernel import Kernel, Outcome


class RegisteredElement:
    """What the registry knows of a UI element: the base of
    :class:`lifecycle.ui.base.UIElement` (the registry recognises elements by this class, so
    it never imports the element modules; they import it).

    Attributes:
        element_id: the element's id in its kernel.
        args_key: equal for two elements created with equal arguments.
        parent: the form the element belongs to, else ``None``.
        kind: the element kind (class attribute).
        value: the current value (Python form).
    """

    __slots__ = ()

    kind: ClassVar[str]
    element_id: str
    args_key: Any
    parent: RegisteredElement | None
    value: Any

    def convert(self, raw: Any) -> Any:
        """Validate a wire value from the frontend and convert it to the Python form."""
        raise NotImplementedError

    def wire_value(self) -> Any:
        """The value as sent to the frontend."""
        raise NotImplementedError

    def _set_from_frontend(self, value: Any) -> None:
        """Store the result of :meth:`convert`."""
        raise NotImplementedError


def registry_for(ctx: context_mod.KernelContext | None) -> UIRegistry | None:
    """The UI registry of a kernel context (``None`` outside a kernel)."""
    if ctx is None:
        return None
    return ctx.extensions.get("ui")


class UIRegistry:
    """UI elements of one kernel (``kernel.extensions["ui"]``).

    Args:
        kernel: the kernel; the registry adds its own pre/post execution hooks.
    """

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = weakref.ref(kernel)
        self.elements: dict[str, RegisteredElement] = {}
        self._last: dict[str, tuple[Any, Any]] = {}  # id -> (args key, value)
        self._owner_ids: dict[str, list[str]] = {}  # cell -> element ids created by its last run
        self._bindings: dict[str, set[tuple[str, str]]] = {}  # element id -> {(cell, global)}
        self._counters: dict[str, int] = {}
        self._free = 0
        self._at_cell_end: dict[str, Callable[[], None]] = {}
        kernel.hooks.pre_execution.append(self._before_cell)
        kernel.hooks.post_execution.append(self._after_cell)
        kernel.extensions.setdefault("cell_removed_hooks", []).append(self.forget_cell)

    # ---------------------------------------------------------------- creation
    def new_id(self, args_key: Any) -> tuple[str, Any]:
        """An id for an element being created now, and the value to restore (or
        :data:`NO_VALUE`) when an element with that id and the same ``args_key`` existed."""
        kernel = self._kernel()
        cell = kernel.running_cell if kernel is not None else None
        if cell is None:
            self._free += 1
            return f"free/{self._free}", NO_VALUE
        n = self._counters.get(cell, 0)
        self._counters[cell] = n + 1
        element_id = f"{cell}/{n}"
        previous = self._last.get(element_id)
        if previous is not None and previous[0] == args_key:
            return element_id, previous[1]
        return element_id, NO_VALUE

    def add(self, element: RegisteredElement) -> None:
        """Register a newly created element."""
        self.elements[element.element_id] = element
        owner = element.element_id.split("/", 1)[0]
        self._owner_ids.setdefault(owner, []).append(element.element_id)
        self.remember(element)

    def remember(self, element: RegisteredElement) -> None:
        """Record an element's current value (restored if its cell re-creates it unchanged)."""
        self._last[element.element_id] = (element.args_key, element.value)

    # ------------------------------------------------------------------- hooks
    def _before_cell(self, kernel: Kernel, cell_id: str) -> None:
        self._counters[cell_id] = 0
        for element_id in self._owner_ids.pop(cell_id, ()):
            self.elements.pop(element_id, None)
            self._bindings.pop(element_id, None)

    def _after_cell(self, kernel: Kernel, cell_id: str, outcome: Outcome) -> None:
        g = kernel.globals
        for name in kernel.graph.cells[cell_id].analysis.defs:
            value = g.get(name)
            if isinstance(value, RegisteredElement):
                self._bindings.setdefault(value.element_id, set()).add((cell_id, name))
        callbacks, self._at_cell_end = self._at_cell_end, {}
        for key, callback in callbacks.items():
            try:
                callback()
            except Exception:  # one broken callback must not skip the others
                log.exception("UI callback %r after cell %r failed", key, cell_id)

    def call_after_cell(self, key: str, callback: Callable[[], None]) -> bool:
        """Run ``callback()`` once when the running cell finishes (whatever its outcome).

        Args:
            key: deduplicates: a later callback with the same key replaces the earlier one.
            callback: takes no arguments; an exception it raises is logged.

        Returns:
            ``False`` (and nothing is scheduled) when no cell is running.
        """
        kernel = self._kernel()
        if kernel is None or kernel.running_cell is None:
            return False
        self._at_cell_end[key] = callback
        return True

    def forget_cell(self, cell_id: str) -> None:
        """Drop the elements a removed cell created."""
        for element_id in self._owner_ids.pop(cell_id, ()):
            self.elements.pop(element_id, None)
            self._bindings.pop(element_id, None)
            self._last.pop(element_id, None)
        for bound in self._bindings.values():
            bound.difference_update({b for b in bound if b[0] == cell_id})

    # ------------------------------------------------------------------ update
    def apply(self, values: dict[str, Any]) -> set[str]:
        """Set element values from the frontend; returns the cells to re-run.

        All values are validated before any is applied, so a bad update changes nothing.

        Raises:
            LookupError: an unknown element id.
            ValueError / TypeError: a value the element does not accept.
        """
        converted: list[tuple[RegisteredElement, Any]] = []
        for element_id, raw in values.items():
            element = self.elements.get(element_id)
            if element is None:
                raise LookupError(f"no UI element with id {element_id!r}")
            try:
                converted.append((element, element.convert(raw)))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"UI element {element_id!r} ({element.kind}): {exc}") from None
        roots: set[str] = set()
        kernel = self._kernel()
        for element, value in converted:
            element._set_from_frontend(value)
            self.remember(element)
            if kernel is None or self.in_live_form(element):
                continue
            for cell_id, name in self._bindings.get(element.element_id, ()):
                if cell_id in kernel.graph:
                    roots |= kernel.graph.readers(cell_id, name)
        return roots

    def in_live_form(self, element: RegisteredElement) -> bool:
        """Whether ``element`` belongs to a form that is still registered (a form replaced
        by a re-run of its cell, or whose cell was deleted, no longer counts)."""
        parent = getattr(element, "parent", None)
        return parent is not None and self.elements.get(parent.element_id) is parent

    def value_changed(self, element: RegisteredElement) -> None:
        """Kernel-side ``element.value = x``: tell the frontend."""
        self.remember(element)
        kernel = self._kernel()
        if kernel is not None:
            kernel.emit(protocol.UIElementValue(element_id=element.element_id, value=element.wire_value()))


class _NoValue:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()
"""Marker: no earlier value to restore."""
