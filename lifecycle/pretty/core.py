"""The printer core: :class:`PrettyPrinter` (IPython's ``RepresentationPrinter``) and
:func:`pformat`.

:class:`PrettyPrinter` chooses, for each object, the singleton printer, a per-type printer of
:mod:`lifecycle.pretty.printers`, the class's ``_repr_pretty_`` or its ``repr``, and lays the
result out with the engine it inherits from :class:`lifecycle.pretty.engine.LayoutPrinter`.
"""

from __future__ import annotations

from typing import Any

from lifecycle.pretty.engine import DEFAULT_MAX_SEQ_LENGTH, DEFAULT_MAX_WIDTH, LayoutPrinter
from lifecycle.pretty.printers import (
    _SINGLETON_IDS,
    _TYPE_PRINTERS,
    _class_dict,
    _mro,
    _print_default,
    _print_repr,
    _safe_getattr,
)

__all__ = ["PrettyPrinter", "RepresentationPrinter", "pformat"]


def pformat(
    obj: Any, max_width: int = DEFAULT_MAX_WIDTH, *, max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH
) -> str:
    """Pretty-print ``obj`` the way Jupyter's ``text/plain`` output shows it.

    Args:
        obj: any object.
        max_width: target line width in characters; lines are only longer when a single
            unbreakable piece (an atom's repr plus adjoining brackets) does not fit.
        max_seq_length: items shown per container before ``...``; ``0`` means no limit.

    Returns:
        The text, without a trailing newline.

    Raises:
        Exception: whatever the object's own ``__repr__`` or ``_repr_pretty_`` raises (callers
            that must not fail, like :func:`lifecycle.display.format_value`, catch it).
    """
    printer = PrettyPrinter(max_width=max_width, max_seq_length=max_seq_length)
    printer.pretty(obj)
    printer.flush()
    return printer.getvalue()


class PrettyPrinter(LayoutPrinter):
    """A pretty printer compatible with IPython's ``RepresentationPrinter`` interface.

    An instance is what ``_repr_pretty_(self, p, cycle)`` receives as ``p``.  Typical use::

        def _repr_pretty_(self, p, cycle):
            if cycle:
                p.text("Point(...)")
                return
            with p.group(6, "Point(", ")"):
                p.pretty(self.x)
                p.text(",")
                p.breakable()
                p.pretty(self.y)

    Args:
        max_width: target line width in characters.
        max_seq_length: items shown per container before ``...`` (``0``: no limit).
        newline: the line separator written at breaks.
        verbose: accepted for compatibility; no effect.

    Attributes:
        output_width: column of the last written character on the current line.
        indentation: the indentation (columns) of the next line break.
        stack: ids of the objects being printed (used for cycle detection).
    """

    def pretty(self, obj: Any) -> None:
        """Print ``obj`` at the current position, choosing its printer as IPython does.

        Order: the singletons (``None``, ``True``, ...); then, walking the class's MRO, the first
        class that has a built-in printer here, defines ``_repr_pretty_`` or defines
        ``__repr__`` decides; otherwise ``<module.Class at 0x...>``.

        Raises:
            Exception: whatever the object's ``__repr__``/``_repr_pretty_`` raises.
        """
        obj_id = id(obj)
        cycle = obj_id in self.stack
        self.stack.append(obj_id)
        self.begin_group()
        try:
            if obj_id in _SINGLETON_IDS:
                _print_repr(obj, self, cycle)
                return
            cls = _safe_getattr(obj, "__class__", None) or type(obj)
            for klass in _mro(cls):
                printer = _TYPE_PRINTERS.get(klass)
                if printer is not None:
                    printer(obj, self, cycle)
                    return
                namespace = _class_dict(klass)
                if "_repr_pretty_" in namespace:
                    method = klass._repr_pretty_
                    if callable(method):
                        method(obj, self, cycle)
                        return
                if (
                    klass is not object
                    and "__repr__" in namespace
                    and callable(_safe_getattr(klass, "__repr__", None))
                ):
                    _print_repr(obj, self, cycle)
                    return
            _print_default(obj, self, cycle)
        finally:
            self.end_group()
            self.stack.pop()


RepresentationPrinter = PrettyPrinter
"""Alias under IPython's name, for code written against ``IPython.lib.pretty``."""
