"""``display()`` and its companions: send, update and clear outputs from inside a running cell.

The signatures and behaviour are those of ``IPython.display`` (``display``, ``update_display``,
``clear_output``, ``DisplayHandle``), on the kernel protocol: an output is a ``cell-output``
(with ``display_id`` when it can be updated), an update an ``update-display``, a clear a
``clear-output``.  Each flushes the cell's pending console output first, so what the cell
printed before comes first (IPython flushes ``sys.stdout``/``sys.stderr`` too).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from lifecycle import context as context_module
from lifecycle import protocol
from lifecycle.context import KernelContext, NoKernelContextError
from lifecycle.display.formatting import (
    MimeTypes,
    _add,
    _finish,
    _report,
    format_value,
    ipython_display,
)

__all__ = ["DisplayHandle", "clear_output", "display", "new_display_id", "update_display"]


def display(
    *objs: Any,
    include: MimeTypes = None,
    exclude: MimeTypes = None,
    metadata: dict[str, Any] | None = None,
    transient: dict[str, Any] | None = None,
    display_id: str | bool | None = None,
    raw: bool = False,
    clear: bool = False,
    update: bool = False,
    **kwargs: Any,
) -> DisplayHandle | None:
    """Show each object as its own output of the running cell (``IPython.display.display``).

    Args:
        objs: the objects.  Each is shown by its ``_ipython_display_`` if it has one, else
            formatted with :func:`~lifecycle.display.format_value` (the kernel's
            ``output_max_bytes`` applies); an object whose bundle comes out empty (``include``
            / ``exclude``) shows nothing.  ``None`` is shown too (as ``None``).  No objects and
            a ``display_id``: one empty output, to be updated later.
        include, exclude: MIME types to compute / leave out (``format_value``).
        metadata: merged into each output's metadata (nested dicts merged, these values win).
        transient: Jupyter's transient data; its ``display_id`` is used if ``display_id`` is
            not given.  Nothing else of it is sent.
        display_id: a string id for the output(s), so that :func:`update_display` (or the
            returned handle) can replace them later, or ``True`` for a new random id.
        raw: the objects are already mimebundles (``dict`` MIME type -> payload); they are
            validated (binary payloads decoded from base64 if needed) but not formatted.
        clear: clear the cell's outputs first, when the next output arrives
            (``clear_output(wait=True)``).
        update: replace the outputs carrying the display id instead of adding outputs
            (what :func:`update_display` passes).
        kwargs: accepted and ignored (IPython passes them to its display publisher).

    Returns:
        A :class:`DisplayHandle` when ``display_id`` was given, else ``None``.

    Raises:
        NoKernelContextError: called outside a running amphikernel cell.
        TypeError: ``raw=True`` and an object is not a dict; ``update=True`` without a
            display id.
    """
    ctx = _running_context("display()")
    if display_id is True:
        display_id = new_display_id()
    target = display_id or (transient or {}).get("display_id") or None
    if target is not None and not isinstance(target, str):
        raise TypeError(f"display_id must be a str or True, got {type(target).__name__}")
    if update and target is None:
        raise TypeError("display_id required for update_display")
    if not objs and display_id:
        objs, raw = ({},), True  # an empty output to be updated later
    if clear:
        clear_output(wait=True)
    for obj in objs:
        if raw:
            bundle, md = _raw_bundle(obj, ctx.output_max_bytes)
        elif ipython_display(obj):
            continue
        else:
            bundle, md = format_value(
                obj, max_bytes=ctx.output_max_bytes, include=include, exclude=exclude
            )
            if not bundle:
                continue
        if metadata:
            md = _merge(md, metadata)
        _flush(ctx)
        if update:
            assert target is not None
            ctx.emit(protocol.UpdateDisplay(
                display_id=target, data=bundle, metadata=md, cell_id=ctx.cell_id or ""
            ))
        else:
            ctx.emit(protocol.CellOutput(
                cell_id=ctx.cell_id or "", data=bundle, metadata=md, kind="display",
                display_id=target,
            ))
    return DisplayHandle(display_id) if isinstance(display_id, str) and display_id else None


def update_display(obj: Any, *, display_id: str, **kwargs: Any) -> None:
    """Replace every output carrying ``display_id`` (in any cell) by ``obj``'s
    (``IPython.display.update_display``).  ``kwargs`` as for :func:`display`.

    Raises:
        NoKernelContextError: called outside a running amphikernel cell.
    """
    display(obj, display_id=display_id, update=True, **kwargs)


def clear_output(wait: bool = False) -> None:
    """Clear the running cell's outputs shown so far (``IPython.display.clear_output``).

    Args:
        wait: clear only when the cell's next output, console text or error arrives, so an
            animation redrawn in a loop does not flicker.

    Raises:
        NoKernelContextError: called outside a running amphikernel cell.
    """
    ctx = _running_context("clear_output()")
    _flush(ctx)  # what was printed before is cleared too
    ctx.emit(protocol.ClearOutput(cell_id=ctx.cell_id or "", wait=bool(wait)))


def new_display_id() -> str:
    """A new random display id (32 hexadecimal digits, as IPython makes them)."""
    return uuid.uuid4().hex


class DisplayHandle:
    """A handle on updatable outputs (``IPython.display.DisplayHandle``).

    Args:
        display_id: the id; ``None`` for a new random one.
    """

    def __init__(self, display_id: str | None = None) -> None:
        self.display_id = display_id or new_display_id()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} display_id={self.display_id}>"

    def display(self, obj: Any, **kwargs: Any) -> None:
        """Add a new output with this handle's id (:func:`display`)."""
        display(obj, display_id=self.display_id, **kwargs)

    def update(self, obj: Any, **kwargs: Any) -> None:
        """Replace the outputs with this handle's id (:func:`update_display`)."""
        update_display(obj, display_id=self.display_id, **kwargs)


def _running_context(what: str) -> KernelContext:
    ctx = context_module.current_or_none()
    if ctx is None or ctx.cell_id is None:
        raise NoKernelContextError(f"{what} can only be called while an amphikernel cell is running")
    return ctx


def _flush(ctx: KernelContext) -> None:
    flush = ctx.extensions.get("flush_console")
    if flush is not None:
        flush()


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``extra``, nested dicts merged rather than replaced."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _raw_bundle(obj: Any, limit: int) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(obj, Mapping):
        raise TypeError(f"display(raw=True) expects mimebundle dicts, got {type(obj).__name__}")
    problems: list[str] = []
    bundle: dict[str, Any] = {}
    for mimetype, payload in obj.items():
        _add(bundle, mimetype, payload, "raw bundle", problems)
    if not bundle:
        bundle["text/plain"] = ""
    result = _finish(bundle, {}, limit, problems)
    _report(obj, problems)
    return result
