"""``obj?`` / ``?obj`` (signature, docstring, file, type) and ``obj??`` / ``??obj`` (source too),
printed to the cell's stdout; ``%magic?`` describes a magic."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["describe", "help_text"]

_MAX_STRING_FORM = 200


def _signature(obj: Any) -> str | None:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return None


def _file(obj: Any) -> str | None:
    try:
        path = inspect.getsourcefile(obj) or inspect.getfile(obj)
    except (TypeError, OSError):
        return None
    return path if path and not path.startswith("<cell ") else None


def _source(obj: Any) -> str | None:
    try:
        return inspect.getsource(obj)
    except (TypeError, OSError):
        return None


def describe(name: str, obj: Any, detail: int = 1) -> list[tuple[str, str]]:
    """The fields shown for ``obj`` (``(label, text)`` pairs, in order).

    Args:
        name: how the user wrote it (``np.sum``).
        obj: the object.
        detail: 1 for ``?`` (docstring), 2 for ``??`` (source, when there is one).
    """
    fields: list[tuple[str, str]] = []
    is_class = inspect.isclass(obj)
    if callable(obj):
        sig = _signature(obj)
        if sig is not None:
            fields.append(("Init signature" if is_class else "Signature", f"{name}{sig}"))
    else:
        fields.append(("Type", type(obj).__name__))
        text = str(obj)
        if len(text) > _MAX_STRING_FORM:
            text = text[: _MAX_STRING_FORM // 2] + "<...>" + text[-_MAX_STRING_FORM // 4 :]
        fields.append(("String form", text))
        try:
            fields.append(("Length", str(len(obj))))
        except Exception:
            pass
    source = _source(obj) if detail >= 2 and (callable(obj) or inspect.ismodule(obj)) else None
    if source is not None:
        fields.append(("Source", source.rstrip("\n")))
    else:
        doc = inspect.getdoc(obj)
        fields.append(("Class docstring" if is_class else "Docstring", doc or "<no docstring>"))
    path = _file(obj)
    if path is not None:
        fields.append(("File", path))
    if callable(obj):
        fields.append(("Type", type(obj).__name__))
    return fields


def help_text(fields: list[tuple[str, str]]) -> str:
    """Fields as text: ``Label: value`` with aligned values; multi-line values start on the
    next line."""
    width = max(len(label) for label, _ in fields) + 2
    lines = []
    for label, text in fields:
        head = f"{label}:".ljust(width)
        if "\n" in text:
            lines.append(f"{label}:\n{text}")
        else:
            lines.append(f"{head}{text}")
    return "\n".join(lines)


def show_help(name: str, detail: int, getter: Callable[[], Any] | None,
              magic_doc: Callable[[str], str | None]) -> None:
    """Print the help of ``name`` (``getter`` gives the object; ``%name``: a magic)."""
    if not name:
        print(
            "Notebook help: `obj?` shows an object's signature and docstring, `obj??` its "
            "source; `%lsmagic` lists the magics, `%name?` describes one."
        )
        return
    if name.startswith("%"):
        doc = magic_doc(name.lstrip("%"))
        if doc is None:
            print(f"Object `{name}` not found.")
        else:
            print(help_text([("Docstring", inspect.cleandoc(doc))]))
        return
    if getter is None:
        print(f"Object `{name}` not found.")
        return
    try:
        obj = getter()
    except Exception:
        print(f"Object `{name}` not found.")
        return
    print(help_text(describe(name, obj, detail)))
