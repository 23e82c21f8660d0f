"""HTTP byte ranges (RFC 9110, section 14): parsing ``Range`` against a representation length.

Only a single range is served.  Following RFC 9110 section 14.2 a server MAY ignore the
``Range`` header, and :func:`parse_range` does so (returns ``None``: send the whole
representation with 200) for another range unit, a syntactically invalid header, a
``last-pos`` below ``first-pos`` (section 14.1.1: invalid), and a set of several ranges.
For a single valid range it applies section 14.1.2:

* ``bytes=a-b``: bytes ``a`` to ``min(b, length - 1)`` inclusive; satisfiable iff ``a < length``;
* ``bytes=a-``: bytes ``a`` to the end; satisfiable iff ``a < length``;
* ``bytes=-n``: the last ``n`` bytes (all of them when ``n >= length``); satisfiable iff
  ``n > 0`` and ``length > 0``.

An unsatisfiable range raises :class:`RangeNotSatisfiable`: the caller answers 416 with
``Content-Range: bytes */<length>`` (section 15.5.17).  A satisfiable one is answered 206 with
``Content-Range: bytes <first>-<last>/<length>`` (section 14.4, :meth:`ByteRange.content_range`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RANGE = re.compile(r"\s*(?P<unit>[!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?P<set>.*)", re.DOTALL)
_INT_RANGE = re.compile(r"\s*(?P<first>[0-9]+)\s*-\s*(?P<last>[0-9]*)\s*")
_SUFFIX_RANGE = re.compile(r"\s*-\s*(?P<suffix>[0-9]+)\s*")


class RangeNotSatisfiable(ValueError):
    """The single range requested lies outside the representation (answer 416).

    ``length`` is the representation length in bytes, for ``Content-Range: bytes */length``.
    """

    def __init__(self, length: int) -> None:
        super().__init__(f"range not satisfiable for a {length}-byte representation")
        self.length = length


@dataclass(frozen=True)
class ByteRange:
    """A satisfiable byte range: ``first`` to ``last`` inclusive (0-based byte offsets)."""

    first: int
    last: int
    length: int

    @property
    def size(self) -> int:
        """Number of bytes in the range."""
        return self.last - self.first + 1

    def content_range(self) -> str:
        """The ``Content-Range`` field value, e.g. ``bytes 0-99/1000``."""
        return f"bytes {self.first}-{self.last}/{self.length}"


def parse_range(header: str | None, length: int) -> ByteRange | None:
    """Interpret a ``Range`` field value for a representation of ``length`` bytes.

    Args:
        header: the field value (``None`` or empty: no range requested).
        length: the representation length in bytes (``>= 0``).

    Returns:
        The range to send with 206, or ``None`` to send everything with 200 (no range, an
        ignored or invalid header, several ranges).

    Raises:
        RangeNotSatisfiable: one syntactically valid range that the representation cannot
            satisfy.
        ValueError: ``length`` is negative.
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, not {length}")
    if not header:
        return None
    match = _RANGE.fullmatch(header)
    if match is None or match["unit"].lower() != "bytes":
        return None
    specs = match["set"].split(",")
    if len(specs) != 1:
        return None
    spec = specs[0]
    if (whole := _INT_RANGE.fullmatch(spec)) is not None:
        first = int(whole["first"])
        last = int(whole["last"]) if whole["last"] else None
        if last is not None and last < first:
            return None
        if first >= length:
            raise RangeNotSatisfiable(length)
        end = length - 1 if last is None else min(last, length - 1)
        return ByteRange(first, end, length)
    if (suffix := _SUFFIX_RANGE.fullmatch(spec)) is not None:
        count = int(suffix["suffix"])
        if count == 0 or length == 0:
            raise RangeNotSatisfiable(length)
        return ByteRange(max(0, length - count), length - 1, length)
    return None
