"""Magic arguments, shared by the transformer and the magics at run time (pure functions).

* :func:`split_options`: IPython-style leading short options (``-n 10 -r3 -qo stmt``), the
  rest kept verbatim (it is code or a file name).
* :func:`expansion_fields` / :func:`expand`: IPython's variable expansion of magic arguments
  and shell commands: ``{expr}`` is replaced by the value of a Python expression (``str.format``
  syntax: ``{x!r}``, ``{x:>5}``; a ``:`` starts a format spec, so slices need ``slice()``),
  ``$name`` / ``$obj.attr`` by a variable outside single quotes, ``$$`` is a literal ``$``.
  When any field fails (it does not parse, is not defined, raises), the text is used
  unchanged, as IPython does (so ``!awk '{print $1}'`` reaches the shell intact).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "ExpansionField",
    "OptionError",
    "expand",
    "expansion_fields",
    "split_options",
]


class OptionError(ValueError):
    """A magic's options are malformed (unknown option, missing or non-integer value)."""


def split_options(text: str, spec: str) -> tuple[dict[str, str | bool], str]:
    """Split leading short options off ``text``.

    Args:
        text: the magic's arguments, e.g. ``"-n 10 -r 3 f(x)"``.
        spec: option letters, ``":"`` after those taking a value (``"n:r:p:tcqo"``).

    Returns:
        ``(options, rest)``: option letter -> value (``True`` for flags), and the text after
        the options with its own spacing kept.  Options end at the first word that does not
        start with ``-`` (or at ``--``).

    Raises:
        OptionError: an option not in ``spec``, or a value missing.
    """
    takes_value = {spec[i]: i + 1 < len(spec) and spec[i + 1] == ":" for i in range(len(spec)) if spec[i] != ":"}
    options: dict[str, str | bool] = {}
    pos = 0
    n = len(text)
    while True:
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos >= n or text[pos] != "-" or pos + 1 >= n or text[pos + 1] in " \t":
            break
        end = pos
        while end < n and text[end] not in " \t\r\n":
            end += 1
        word = text[pos:end]
        if word == "--":
            pos = end
            break
        if not word[1].isalpha():  # a negative number or an expression: the statement
            break
        i = 1
        pos = end
        while i < len(word):
            letter = word[i]
            if letter not in takes_value:
                raise OptionError(f"option -{letter} not recognized")
            if not takes_value[letter]:
                options[letter] = True
                i += 1
                continue
            value = word[i + 1 :]
            if not value:
                while pos < n and text[pos] in " \t":
                    pos += 1
                end = pos
                while end < n and text[end] not in " \t\r\n":
                    end += 1
                value = text[pos:end]
                pos = end
                if not value:
                    raise OptionError(f"option -{letter} requires an argument")
            options[letter] = value
            break
    return options, text[pos:].strip()


@dataclass(frozen=True, slots=True)
class ExpansionField:
    """One field of an expandable text.

    Attributes:
        expr: the Python expression (``x.y`` for ``$x.y``), the key of its value getter.
        conversion: ``"r"``, ``"s"``, ``"a"`` or ``None``.
        spec: the format spec (``""`` for none).
    """

    expr: str
    conversion: str | None = None
    spec: str = ""


_DOLLAR = re.compile(r"\$(\$?[\w.]+)")


def _dollar_pieces(literal: str) -> list[str | ExpansionField]:
    """Split literal text at ``$name`` (only outside single quotes) and ``$$``."""
    pieces: list[str | ExpansionField] = []
    pos = 0
    for match in _DOLLAR.finditer(literal):
        if literal.count("'", match.end()) % 2:  # inside '...': left for the shell
            continue
        pieces.append(literal[pos : match.start()])
        name = match.group(1)
        if name.startswith("$"):
            pieces.append("$" + name[1:])
        else:
            name = name.rstrip(".")
            pieces.append(ExpansionField(name))
            pieces.append(match.group(1)[len(name) :])
        pos = match.end()
    pieces.append(literal[pos:])
    return [p for p in pieces if p != ""]


def _parse(text: str) -> list[str | ExpansionField] | None:
    if "{" not in text and "}" not in text and "$" not in text:
        return [text]
    pieces: list[str | ExpansionField] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:  # a lone "}" or "{": no expansion at all
        return None
    for literal, field, spec, conversion in parsed:
        pieces.extend(_dollar_pieces(literal))
        if field is not None:
            if not field.strip():
                return None
            pieces.append(ExpansionField(field, conversion, spec or ""))
    return pieces


def expansion_fields(text: str) -> list[ExpansionField]:
    """The fields of ``text`` (empty when it has none, or when its braces do not pair up,
    which means it is used unchanged)."""
    pieces = _parse(text)
    return [p for p in pieces or () if isinstance(p, ExpansionField)]


def expand(text: str, getters: Mapping[str, Callable[[], object]]) -> str:
    """Expand ``text`` with ``getters`` (field expression -> function returning its value).

    Returns ``text`` unchanged when it has no fields, when a field has no getter (it did not
    parse as Python) or when a getter raises (e.g. ``NameError``).  Never raises.
    """
    pieces = _parse(text)
    if pieces is None or all(isinstance(p, str) for p in pieces):
        return text
    out: list[str] = []
    try:
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            getter = getters.get(piece.expr)
            if getter is None:
                return text
            value = getter()
            if piece.conversion == "r":
                value = repr(value)
            elif piece.conversion == "a":
                value = ascii(value)
            elif piece.conversion == "s":
                value = str(value)
            out.append(format(value, piece.spec))
    except Exception:
        return text
    return "".join(out)
