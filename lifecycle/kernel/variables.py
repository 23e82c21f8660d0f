"""The variables panel's data: the globals each cell defines, with type name and short repr."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lifecycle import protocol
from lifecycle.graph import DataflowGraph

_SHORT_INT = 10**30
"""``int`` values strictly between ``-_SHORT_INT`` and ``_SHORT_INT`` have reprs of at most 31
characters, under ``reprlib``'s 40-character ``maxlong``: their short repr is ``repr``."""


def describe_variables(
    graph: DataflowGraph, namespace: dict[str, Any], cell_ids: Iterable[str]
) -> dict[str, list[protocol.VariableInfo]]:
    """The globals each cell defines now.

    Args:
        graph: the kernel's dataflow graph (which names each cell defines).
        namespace: the kernel's globals.
        cell_ids: the cells to describe; unknown ids are skipped.

    Returns:
        cell id -> one :class:`~lifecycle.protocol.VariableInfo` per defined, bound name
        (sorted by name), each repr cut to about 60 characters.
    """
    import reprlib

    short = reprlib.Repr()
    short.maxstring = 60
    short.maxother = 60
    out: dict[str, list[protocol.VariableInfo]] = {}
    for cid in cell_ids:
        node = graph.cells.get(cid)
        if node is None:
            continue
        infos = []
        for name in sorted(node.analysis.defs):
            if name not in namespace:
                continue
            value = namespace[name]
            cls = value.__class__
            if cls is float or cls is bool or (cls is int and -_SHORT_INT < value < _SHORT_INT):
                text = repr(value)  # what reprlib gives these (no truncation at this length)
            else:
                try:
                    text = short.repr(value)
                except Exception as exc:
                    text = f"<repr failed: {type(exc).__name__}>"
            infos.append(protocol.VariableInfo(name=name, type=type(value).__name__, repr=text))
        out[cid] = infos
    return out
