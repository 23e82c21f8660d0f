"""Helper printables: objects whose pretty form is fixed text or a call expression.

:class:`RawText` and :class:`CallExpression` are public (as in ``IPython.lib.pretty``); the
per-type printers use them, and the regular-expression parts, to print ``Counter(...)``,
``re.compile(r'...', re.I)`` and the like.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lifecycle.pretty.engine import LayoutPrinter

__all__ = ["CallExpression", "RawText"]


class RawText:
    """An object whose pretty form is ``text`` verbatim (e.g. ``RawText("...")``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p: LayoutPrinter, cycle: bool) -> None:
        p.text(self.text)


class CallExpression:
    """Pretty-prints as a call ``name(arg, ..., key=value, ...)``, breaking between arguments
    (continuation lines indented by ``len(name) + 1``).

    Args:
        name: the callee text, e.g. ``"Counter"``.
        args: positional arguments (pretty-printed).
        kwargs: keyword arguments (pretty-printed, in order).
    """

    def __init__(self, name: str, /, *args: Any, **kwargs: Any) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs

    def _repr_pretty_(self, p: LayoutPrinter, cycle: bool) -> None:
        prefix = f"{self.name}("
        first = True
        with p.group(len(prefix), prefix, ")"):
            for arg in self.args:
                if not first:
                    p.text(",")
                    p.breakable()
                first = False
                p.pretty(arg)
            for key, value in self.kwargs.items():
                if not first:
                    p.text(",")
                    p.breakable()
                first = False
                with p.group(len(key) + 1, f"{key}="):
                    p.pretty(value)


class _RawStringLiteral:
    """A str/bytes shown as a raw literal (``r'\\d'``), as IPython shows regex patterns."""

    def __init__(self, value: str | bytes) -> None:
        self.value = value

    def _repr_pretty_(self, p: LayoutPrinter, cycle: bool) -> None:
        p.text("r" + repr(self.value).replace("\\\\", "\\"))


_RE_FLAG_NAMES = ("IGNORECASE", "LOCALE", "MULTILINE", "DOTALL", "UNICODE", "VERBOSE", "DEBUG")


class _ReFlags:
    """``re`` flags as ``re.A|re.B`` (flags IPython does not name, like ASCII, print nothing)."""

    def __init__(self, flags: int) -> None:
        self.flags = flags

    def _repr_pretty_(self, p: LayoutPrinter, cycle: bool) -> None:
        names = [f"re.{name}" for name in _RE_FLAG_NAMES if self.flags & getattr(re, name)]
        p.text("|".join(names))
