"""The dataflow graph of a notebook's cells, kept up to date incrementally.

Two semantics (ARCHITECTURE.md, "Reactive semantics"):

* ``script`` (default): a reference binds to the nearest cell *above* that defines the name,
  as if the notebook ran top to bottom; redefinitions are allowed.  Edges always point down,
  so file order is a topological order.
* ``strict``: each name has one defining cell, cells may be in any order, the graph must be
  acyclic.  Multiple definitions and cycles are reported on the cells involved.

Edges are not stored: per name, the graph keeps the defining and the referencing cells sorted
by position, and answers "children of a cell" with two binary searches per defined name.
Changing one cell re-analyses that cell only and updates the indexes of the names it gained
or lost.

Each cell's children are cached once computed (a 1,000-cell notebook's run order then walks
cached sets).  A change of one cell drops only the cached entries it can affect: its own, and
(script semantics) those of the nearest definer above it of each name it reads or defines,
before or after the change; (strict semantics) those of every definer of a name it reads.
Reordering drops them all.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from lifecycle.analysis import CellAnalysis, analyze_cell

Semantics = Literal["script", "strict"]

__all__ = ["CellNode", "DataflowGraph", "GraphError", "Semantics"]


@dataclass(slots=True)
class CellNode:
    """A cell in the graph: its source and the analysis of that source."""

    cell_id: str
    code: str
    analysis: CellAnalysis


@dataclass(frozen=True, slots=True)
class GraphError:
    """A structural error that keeps a cell from running (strict semantics or syntax)."""

    kind: Literal["syntax", "multiple-definition", "cycle"]
    message: str
    names: tuple[str, ...] = ()


class DataflowGraph:
    """Cells, their order, and the dependencies between them.

    Args:
        semantics: ``"script"`` or ``"strict"`` (see the module docstring).
    """

    def __init__(self, semantics: Semantics = "script") -> None:
        self.semantics: Semantics = semantics
        self.cells: dict[str, CellNode] = {}
        self.order: list[str] = []
        self._pos: dict[str, int] = {}
        self._definers: dict[str, list[str]] = {}
        self._referrers: dict[str, list[str]] = {}
        self._kids: dict[str, frozenset[str]] = {}

    # ----------------------------------------------------------------- structure
    def __contains__(self, cell_id: object) -> bool:
        return cell_id in self.cells

    def __len__(self) -> int:
        return len(self.cells)

    def position(self, cell_id: str) -> int:
        """Index of ``cell_id`` in notebook order.  Raises ``KeyError`` if unknown."""
        return self._pos[cell_id]

    def _key(self, cell_id: str) -> int:
        return self._pos[cell_id]

    def _index(self, cell_id: str) -> None:
        analysis = self.cells[cell_id].analysis
        for name in analysis.defs:
            insort(self._definers.setdefault(name, []), cell_id, key=self._key)
        for name in analysis.refs:
            insort(self._referrers.setdefault(name, []), cell_id, key=self._key)

    def _unindex(self, cell_id: str) -> None:
        analysis = self.cells[cell_id].analysis
        for table, names in ((self._definers, analysis.defs), (self._referrers, analysis.refs)):
            for name in names:
                ids = table[name]
                ids.pop(bisect_left(ids, self._pos[cell_id], key=self._key))
                if not ids:
                    del table[name]

    def _invalidate(self, cell_id: str, analyses: Iterable[CellAnalysis]) -> None:
        """Drop the cached children that a change of ``cell_id`` (from or to one of
        ``analyses``) can affect; ``cell_id`` must still have its position."""
        kids = self._kids
        if not kids:
            return
        kids.pop(cell_id, None)
        if self.semantics == "strict":
            for analysis in analyses:
                for name in analysis.refs:
                    for definer in self._definers.get(name, ()):
                        kids.pop(definer, None)
            return
        for analysis in analyses:
            for names in (analysis.refs, analysis.defs):
                for name in names:
                    above = self.definer_above(cell_id, name)
                    if above is not None:
                        kids.pop(above, None)

    def set_order(self, order: Iterable[str]) -> None:
        """Set the notebook order.  Unknown ids are ignored; known cells missing from
        ``order`` keep their relative order after the listed ones.  Re-sorts the indexes
        (O(names), no re-analysis)."""
        listed = [cid for cid in dict.fromkeys(order) if cid in self.cells]
        seen = set(listed)
        new_order = listed + [cid for cid in self.order if cid not in seen]
        if new_order == self.order:
            return
        self.order = new_order
        self._kids.clear()
        self._pos = {cid: i for i, cid in enumerate(new_order)}
        for table in (self._definers, self._referrers):
            for ids in table.values():
                ids.sort(key=self._key)

    def upsert(self, cell_id: str, code: str) -> bool:
        """Add a cell at the end, or change a cell's code.  Returns whether anything changed.

        Only this cell is analysed (a syntax error is kept in its analysis, not raised)."""
        node = self.cells.get(cell_id)
        if node is not None and node.code == code:
            return False
        analysis = analyze_cell(code, f"<cell {cell_id}>")
        if node is None:
            self.cells[cell_id] = CellNode(cell_id, code, analysis)
            self._pos[cell_id] = len(self.order)
            self.order.append(cell_id)
            self._invalidate(cell_id, (analysis,))
        else:
            self._invalidate(cell_id, (node.analysis, analysis))
            self._unindex(cell_id)
            node.code = code
            node.analysis = analysis
        self._index(cell_id)
        return True

    def add_dynamic_defs(self, cell_id: str, names: Iterable[str]) -> None:
        """Record names a cell was found to define at run time (``from m import *``)."""
        node = self.cells[cell_id]
        extra = frozenset(names) - node.analysis.defs
        if not extra:
            return
        a = node.analysis
        new = CellAnalysis(
            defs=a.defs | extra, refs=a.refs - extra, deletes=a.deletes,
            star_import=a.star_import, error=a.error, tree=a.tree,
        )
        self._invalidate(cell_id, (a, new))
        self._unindex(cell_id)
        node.analysis = new
        self._index(cell_id)

    def remove(self, cell_id: str) -> None:
        """Remove a cell.  Raises ``KeyError`` if unknown."""
        self._invalidate(cell_id, (self.cells[cell_id].analysis,))
        self._unindex(cell_id)
        del self.cells[cell_id]
        index = self._pos.pop(cell_id)
        del self.order[index]
        for i in range(index, len(self.order)):
            self._pos[self.order[i]] = i

    # ------------------------------------------------------------------- queries
    def definers(self, name: str) -> list[str]:
        """Cells defining ``name``, in notebook order."""
        return list(self._definers.get(name, ()))

    def definer_above(self, cell_id: str, name: str) -> str | None:
        """Script semantics: the nearest cell above ``cell_id`` that defines ``name``."""
        ids = self._definers.get(name)
        if not ids:
            return None
        i = bisect_left(ids, self._pos[cell_id], key=self._key)
        return ids[i - 1] if i else None

    def parents(self, cell_id: str) -> set[str]:
        """Cells whose definitions ``cell_id`` reads."""
        refs = self.cells[cell_id].analysis.refs
        if self.semantics == "script":
            found = (self.definer_above(cell_id, name) for name in refs)
            return {p for p in found if p is not None}
        return {d for name in refs for d in self._definers.get(name, ()) if d != cell_id}

    def children(self, cell_id: str) -> set[str]:
        """Cells that read a definition of ``cell_id`` (a new set)."""
        return set(self._children(cell_id))

    def _children(self, cell_id: str) -> frozenset[str]:
        """:meth:`children`, cached (see the module docstring)."""
        cached = self._kids.get(cell_id)
        if cached is None:
            cached = self._kids[cell_id] = frozenset(self._compute_children(cell_id))
        return cached

    def _compute_children(self, cell_id: str) -> set[str]:
        out: set[str] = set()
        defs = self.cells[cell_id].analysis.defs
        if self.semantics == "strict":
            for name in defs:
                out.update(self._referrers.get(name, ()))
            out.discard(cell_id)
            return out
        for name in defs:
            out |= self.readers(cell_id, name)
        return out

    def readers(self, cell_id: str, name: str) -> set[str]:
        """Cells that read the binding of ``name`` made by ``cell_id``."""
        readers = self._referrers.get(name)
        if not readers or cell_id not in self.cells:
            return set()
        if self.semantics == "strict":
            return set(readers) - {cell_id}
        pos = self._pos[cell_id]
        definers = self._definers.get(name, [])
        nxt = bisect_right(definers, pos, key=self._key)
        stop = self._pos[definers[nxt]] if nxt < len(definers) else len(self.order)
        lo = bisect_right(readers, pos, key=self._key)
        hi = bisect_right(readers, stop, key=self._key)
        return set(readers[lo:hi])

    def descendants(self, roots: Iterable[str]) -> set[str]:
        """Every cell reachable from ``roots`` (roots excluded unless reachable)."""
        seen: set[str] = set()
        children = self._children
        stack = [c for r in roots for c in children(r)]
        while stack:
            cid = stack.pop()
            if cid in seen:
                continue
            seen.add(cid)
            stack.extend(children(cid) - seen)
        return seen

    def errors(self, cell_ids: Iterable[str]) -> dict[str, GraphError]:
        """Structural errors of the given cells: syntax errors always; under strict
        semantics also multiple definitions (cycles are found by :meth:`run_order`)."""
        out: dict[str, GraphError] = {}
        for cid in cell_ids:
            analysis = self.cells[cid].analysis
            if analysis.error is not None:
                out[cid] = GraphError("syntax", str(analysis.error))
            elif self.semantics == "strict":
                multi = sorted(n for n in analysis.defs if len(self._definers.get(n, ())) > 1)
                if multi:
                    others = sorted(
                        {d for n in multi for d in self._definers[n]} - {cid}, key=self._key
                    )
                    out[cid] = GraphError(
                        "multiple-definition",
                        f"{', '.join(repr(n) for n in multi)} defined by more than one cell"
                        f" (also in {', '.join(others)})",
                        tuple(multi),
                    )
        return out

    def run_order(self, roots: Iterable[str]) -> tuple[list[str], dict[str, GraphError]]:
        """The cells to run when ``roots`` run: roots and descendants, topologically sorted
        with notebook order breaking ties.  Returns ``(order, cycle_errors)``; cells on a
        cycle (strict semantics) are left out of ``order`` and reported, and the cells
        downstream of a cycle come last in ``order``."""
        roots = [r for r in dict.fromkeys(roots) if r in self.cells]
        members = set(roots) | self.descendants(roots)
        if self.semantics == "script":
            return sorted(members, key=self._key), {}
        indegree = {cid: 0 for cid in members}
        kids = {cid: self._children(cid) & members for cid in members}
        for cid in members:
            for kid in kids[cid]:
                indegree[kid] += 1
        heap = [(self._pos[c], c) for c, d in indegree.items() if d == 0]
        heapq.heapify(heap)
        order: list[str] = []
        while heap:
            _, cid = heapq.heappop(heap)
            order.append(cid)
            for kid in kids[cid]:
                indegree[kid] -= 1
                if indegree[kid] == 0:
                    heapq.heappush(heap, (self._pos[kid], kid))
        errors: dict[str, GraphError] = {}
        if len(order) < len(members):
            stuck = members - set(order)
            for component in _cycles(stuck, kids):
                path = " -> ".join(sorted(component, key=self._key))
                for cid in component:
                    errors[cid] = GraphError("cycle", f"cells form a cycle: {path}")
            # Cells downstream of a cycle come last; the kernel skips them (errored ancestor).
            order.extend(sorted(stuck - errors.keys(), key=self._key))
        return order, errors


def _cycles(nodes: set[str], kids: dict[str, frozenset[str]]) -> list[set[str]]:
    """Strongly connected components with a cycle among ``nodes`` (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[set[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(kids[start] & nodes)))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for kid in it:
                if kid not in index:
                    index[kid] = low[kid] = counter
                    counter += 1
                    stack.append(kid)
                    on_stack.add(kid)
                    work.append((kid, iter(sorted(kids[kid] & nodes))))
                    advanced = True
                    break
                if kid in on_stack:
                    low[node] = min(low[node], index[kid])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or node in kids[node]:
                    result.append(component)
    return result
