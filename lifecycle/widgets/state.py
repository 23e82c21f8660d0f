"""Applying frontend state to an ``ipywidgets`` widget: trait conversion, atomic and
without echo.
"""

from __future__ import annotations

import sys
from typing import Any


def _ipywidget_class() -> type | None:
    module = sys.modules.get("ipywidgets.widgets.widget")
    return getattr(module, "Widget", None) if module is not None else None


def _set_widget_state(model_id: str, widget: Any, state: dict[str, Any]) -> None:
    """Set synced traits from frontend JSON state, atomically and without echo."""
    from traitlets import TraitError

    synced = set(widget.keys)
    converted: dict[str, Any] = {}
    for name, raw in state.items():
        if name not in synced:
            continue
        try:
            from_json = widget.trait_metadata(name, "from_json", widget._trait_from_json)
            converted[name] = from_json(raw, widget)
        except Exception as exc:
            raise ValueError(
                f"widget model {model_id!r} ({type(widget).__name__}): invalid value for "
                f"trait {name!r}: {exc}"
            ) from None
    if not converted:
        return
    failing: list[str] = []
    locked = {name: state[name] for name in converted}
    lock_property = getattr(widget, "_lock_property", None)
    try:
        with widget.hold_sync():
            if lock_property is None:  # pragma: no cover - every ipywidgets 8 has it
                widget.set_state(locked)
                return
            # Lock the values (they are not sent back), hold notifications (a TraitError
            # rolls every trait set here back), as ipywidgets' own set_state does.
            with lock_property(**locked), widget.hold_trait_notifications():
                for name, value in converted.items():
                    failing[:] = [name]
                    widget.set_trait(name, value)
                failing.clear()
    except TraitError as exc:
        which = f"trait {failing[0]!r}" if failing else "traits " + ", ".join(map(repr, converted))
        raise ValueError(
            f"widget model {model_id!r} ({type(widget).__name__}): invalid value for {which}: {exc}"
        ) from None
