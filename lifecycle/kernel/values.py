"""Script semantics' bookkeeping: each cell's *contribution* (the values its last run bound)
and the materialization of globals from contributions.

Before a cell runs, each name it reads or writes is set to the nearest contribution above it;
after a run, each touched name is set to the last contribution in the notebook.  The globals
therefore always equal what running the current cells top to bottom would give, without
re-running the cells that shadow a name.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from lifecycle.graph import DataflowGraph, GraphError

ABSENT: Any = object()
"""Value marker: the name is not bound."""
INHERIT: Any = object()
"""Contribution marker: the cell did not rebind this name in its last run (it raised first, or
bound it conditionally, or to the very object it already had), so the value comes from above."""


class Materializer:
    """Mixin of :class:`lifecycle.kernel.Kernel`: sets globals from the cells' contributions,
    and decides which cells a run must include or skip because of them.

    The class using it provides ``graph`` (:class:`~lifecycle.graph.DataflowGraph`),
    ``globals`` (the namespace), ``_contrib`` (cell id -> name -> value or :data:`INHERIT`)
    and ``_unbound`` (cell id -> names a failed run did not bind).
    """

    graph: DataflowGraph
    globals: dict[str, Any]
    _contrib: dict[str, dict[str, Any]]
    _unbound: dict[str, frozenset[str]]
    _pending_names: set[str]

    def _reads_unbound(self, cid: str, failed: set[str]) -> bool:
        """Whether ``cid`` reads a name whose binding comes from a failed cell that did not
        bind it (a stale or missing value: the cell must not run)."""
        graph = self.graph
        for name in graph.cells[cid].analysis.refs:
            if graph.semantics == "script":
                definer = graph.definer_above(cid, name)
                sources: Iterable[str] = () if definer is None else (definer,)
            else:
                sources = (d for d in graph._definers.get(name, ()) if d != cid)
            for source in sources:
                if source in failed:
                    unbound = self._unbound.get(source)
                    if unbound is None or name in unbound:
                        return True
        return False

    def _run_order(self, roots: list[str]) -> tuple[list[str], dict[str, GraphError]]:
        """Roots, their descendants, and (script semantics) the later definers of a name a
        running cell defines whose last run did not rebind it: their value comes from above,
        so they must run again to give the top-to-bottom result."""
        graph = self.graph
        wanted = set(roots)
        # Names whose definitions an edit, deletion or reorder changed: every cell that
        # inherits such a name from above must run again.
        for name in self._pending_names:
            for definer in graph._definers.get(name, ()):
                if self._contrib.get(definer, {}).get(name) is INHERIT:
                    wanted.add(definer)
        while True:
            order, cycle_errors = graph.run_order(wanted)
            if graph.semantics != "script":
                return order, cycle_errors
            in_order = set(order)
            extra: set[str] = set()
            contrib = self._contrib
            for cid in order:
                for name in graph.cells[cid].analysis.defs:
                    definers = graph._definers[name]
                    if definers[-1] == cid:  # no later definer (the common case)
                        continue
                    for later in definers[definers.index(cid) + 1 :]:
                        if later not in in_order and contrib.get(later, {}).get(name) is INHERIT:
                            extra.add(later)
            if not extra:
                return order, cycle_errors
            wanted |= extra

    def _value_above(self, cid: str | None, name: str) -> Any:
        """The value of ``name`` just before ``cid`` runs (``None``: after the last cell)."""
        definers = self.graph._definers.get(name)
        if not definers:
            return ABSENT
        if cid is None:
            index = len(definers)
        else:
            positions = self.graph._pos
            index = bisect_left(definers, positions[cid], key=positions.__getitem__)
        contribs = self._contrib
        for i in range(index - 1, -1, -1):
            contrib = contribs.get(definers[i])
            if contrib is not None and name in contrib and contrib[name] is not INHERIT:
                return contrib[name]
        return ABSENT

    def _set_global(self, name: str, value: Any) -> None:
        if value is ABSENT:
            self.globals.pop(name, None)
        else:
            self.globals[name] = value

    def _materialize_before(self, cid: str) -> None:
        analysis = self.graph.cells[cid].analysis
        if self.graph.semantics == "strict":
            for name in analysis.defs:
                self.globals.pop(name, None)
            return
        definers = self.graph._definers
        for name in analysis.refs:
            if name in definers:
                self._set_global(name, self._value_above(cid, name))
        for name in analysis.defs:
            self._set_global(name, self._value_above(cid, name))

    def _materialize_final(self, names: set[str]) -> None:
        if self.graph.semantics == "strict":
            for name in names:
                if not self.graph._definers.get(name):
                    self.globals.pop(name, None)
            return
        for name in names:
            self._set_global(name, self._value_above(None, name))

    def _drop_contribution(self, cid: str, names: set[str]) -> None:
        self._contrib.pop(cid, None)
        self._unbound.pop(cid, None)
        node = self.graph.cells.get(cid)
        if node is not None:
            names |= node.analysis.defs
            if self.graph.semantics == "strict":
                for name in node.analysis.defs:
                    self.globals.pop(name, None)
