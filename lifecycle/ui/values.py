"""Value checks and JSON-safe conversions shared by the UI element modules.

Everything here is stdlib, so it runs inside Pyodide.
"""

from __future__ import annotations

import math
import numbers
import types
from collections.abc import Callable
from typing import Any


def _is_real(value: Any) -> bool:
    """A real number that is not a ``bool``."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_label(label: Any) -> str:
    if not isinstance(label, str):
        raise TypeError(f"label must be a str, got {type(label).__name__}")
    return label


def _clean_str(text: str) -> str:
    """``text`` with lone surrogates replaced, so it encodes as UTF-8 (msgpack ``str``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _safe_repr(value: Any) -> str:
    try:
        return _clean_str(repr(value))
    except Exception as exc:
        return f"<repr failed: {type(exc).__name__}>"


def _json_safe(value: Any) -> Any:
    """A JSON scalar for ``value``: ``None``, ``bool``, 64-bit ``int``, finite ``float`` and
    ``str`` as they are (integers and floats of other types converted), anything else
    (including NaN, infinities, containers) as its ``repr``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, numbers.Integral):
        as_int = int(value)
        return as_int if -(2**63) <= as_int < 2**64 else repr(as_int)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else repr(float(value))
    return _safe_repr(value)


def _is_json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _code_key(code: types.CodeType) -> tuple[Any, ...]:
    consts = tuple(_code_key(c) if isinstance(c, types.CodeType) else _safe_repr(c) for c in code.co_consts)
    return (code.co_name, code.co_code, consts, code.co_names)


def _callable_key(fn: Callable[..., Any] | None) -> Any:
    """A key equal for two definitions of the same function (the same code), so an element
    whose callback is re-created by a re-run keeps its value; ``repr`` for other callables."""
    if fn is None:
        return None
    func = getattr(fn, "__func__", fn)
    code = getattr(func, "__code__", None)
    if isinstance(code, types.CodeType):
        return (getattr(func, "__qualname__", ""), _code_key(code))
    return _safe_repr(fn)


def _check_number(raw: Any, what: str = "value") -> float:
    """``raw`` if it is a finite real number.

    Raises:
        TypeError: not a number (``bool`` is not a number here).
        ValueError: NaN or infinite.
    """
    if not _is_real(raw):
        raise TypeError(f"{what}: expected a number, got {type(raw).__name__}")
    if not math.isfinite(raw):
        raise ValueError(f"{what}: {raw!r} is not a finite number")
    return raw


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:
        return False
