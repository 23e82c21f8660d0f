"""From a cell's chunks to ``sink`` calls: runs per stream, valid Unicode, the UTF-8 byte cap.

Pure functions on text, used by :meth:`lifecycle.streams.console.Console._drain` and
:meth:`~lifecycle.streams.console.Console._apply_cap`.
"""

from __future__ import annotations

import itertools
import operator
from typing import Any

from lifecycle.streams.buffer import StreamName

_first = operator.itemgetter(0)


def _runs(batch: list[Any]) -> list[tuple[StreamName, str]]:
    """Join consecutive chunks of one stream: ``[(stream, text), ...]`` in order, no empties."""
    runs: list[tuple[StreamName, str]] = []
    for kind, group in itertools.groupby(batch, type):
        stream: StreamName
        if kind is tuple:
            stream, text = "stderr", "".join(map(_first, group))
        else:
            stream, text = "stdout", "".join(group)
        if not text:
            continue
        if runs and runs[-1][0] == stream:
            runs[-1] = (stream, runs[-1][1] + text)
        else:
            runs.append((stream, text))
    return runs


def _valid_text_and_size(text: str) -> tuple[str, int]:
    """``text`` with lone surrogates replaced by U+FFFD, and its UTF-8 size in bytes."""
    if text.isascii():
        return text, len(text)
    try:
        return text, len(text.encode("utf-8"))
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return text, len(text.encode("utf-8"))


def _utf8_prefix(text: str, size: int) -> str:
    """The longest prefix of ``text`` (valid Unicode) whose UTF-8 encoding fits ``size`` bytes."""
    if text.isascii():
        return text[:size]
    return text.encode("utf-8")[:size].decode("utf-8", "ignore")
