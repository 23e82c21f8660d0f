"""How a completion is shown: its signature, its one-line doc, public names before private ones."""

from __future__ import annotations

import inspect
import types

from lifecycle.completion.introspection import _is, _own_dict, _static_repr

DOC_MAX_CHARS = 200
"""A completion's ``doc`` is the first non-empty docstring line, cut to this many characters."""


def _first_doc_line(doc: object) -> str:
    """The first non-empty line of a docstring, stripped and cut to :data:`DOC_MAX_CHARS`."""
    if not isinstance(doc, str):
        return ""
    for line in doc.splitlines():
        line = line.strip()
        if line:
            if len(line) > DOC_MAX_CHARS:
                return line[: DOC_MAX_CHARS - 1] + "\u2026"
            return line
    return ""


def _is_private(name: str) -> bool:
    return name.startswith("_")


def _static_details(name: str, obj: object, bound: bool = False) -> tuple[str, str]:
    """``(signature, doc)`` for plain functions, classes and modules; ``""`` otherwise.

    ``bound``: ``obj`` is reached as a method, so its first parameter is not shown.
    """
    signature = doc = ""
    try:
        if _is(obj, (types.FunctionType, types.BuiltinFunctionType)):
            sig = inspect.signature(obj, follow_wrapped=False)
            if bound:
                sig = sig.replace(parameters=list(sig.parameters.values())[1:])
            signature = name + _format_signature(sig)
            doc = _first_doc_line(obj.__doc__)
        elif _is(obj, (type, types.ModuleType)):
            doc = _first_doc_line((_own_dict(obj) or {}).get("__doc__"))
    except Exception:
        pass
    return signature, doc


class _Shown:
    """Stands in for a default value or annotation: its ``repr`` is fixed text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _format_signature(signature: inspect.Signature) -> str:
    """``str(signature)`` with defaults and odd annotations shown by :func:`_static_repr`."""

    def shown(value: object) -> object:
        if value is inspect.Parameter.empty or _is(value, (str, type, types.GenericAlias)):
            return value
        return _Shown(_static_repr(value))

    params = [
        p.replace(default=shown(p.default), annotation=shown(p.annotation))
        for p in signature.parameters.values()
    ]
    return str(
        signature.replace(parameters=params, return_annotation=shown(signature.return_annotation))
    )
