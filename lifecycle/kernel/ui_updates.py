"""Merging waiting UI-element and widget-state updates (the control loop's UI-merge)."""

from __future__ import annotations

from typing import Any

from lifecycle import protocol


def place_buffers(
    state: dict[str, Any], paths: list[list[str | int]], buffers: list[bytes]
) -> dict[str, Any]:
    """Put binary buffers into a widget state at their paths.

    Args:
        state: the widget state delta (not modified; a copy is returned when buffers exist).
        paths: one key path per buffer (Jupyter widget message spec, ``buffer_paths``).
        buffers: the binary buffers, in the order of ``paths``.

    Returns:
        the state with each buffer at its path.
    """
    if not paths:
        return state
    state = dict(state)
    for path, buf in zip(paths, buffers):
        if not path:
            continue
        target: Any = state
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = buf
    return state


def merge_ui_updates(batch: list[Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Merge waiting updates: element id -> last value, model id -> merged state delta
    (with binary buffers placed inline).  Order within the batch decides: later wins.

    Args:
        batch: :class:`~lifecycle.protocol.UpdateUIElement` and
            :class:`~lifecycle.protocol.WidgetModel` (``update``) commands, oldest first.
    """
    values: dict[str, Any] = {}
    models: dict[str, dict[str, Any]] = {}
    for command in batch:
        if isinstance(command, protocol.UpdateUIElement):
            values.update(command.values)
        else:
            state = place_buffers(command.state, command.buffer_paths, command.buffers)
            models.setdefault(command.model_id, {}).update(state)
    return values, models
