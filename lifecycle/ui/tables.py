"""The :class:`table` element (rows the reader can select) and its :class:`TableSelection`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from lifecycle.ui.base import UIElement
from lifecycle.ui.values import _clean_str, _json_safe, _same


class TableSelection(list):  # type: ignore[type-arg]
    """The selected rows of a :class:`table` (a ``list``), with their :attr:`indices`."""

    __slots__ = ("indices",)

    def __init__(self, rows: Iterable[Any] = (), indices: Iterable[int] = ()) -> None:
        super().__init__(rows)
        self.indices: list[int] = list(indices)


class table(UIElement):
    """A table whose rows the reader can select.

    Args:
        data: a list of rows (dicts column -> cell; other items are shown in one
            ``"value"`` column), or a dict column -> list of cells (equal lengths).
        selection: ``"multi"``, ``"single"`` or ``None`` (no selection).
        value: indices of the rows selected at first.
        page_size: rows per page in the frontend.
        label: caption.

    Props carry ``columns`` (str) and ``rows`` (lists of JSON-safe cells in column order;
    cells that are not JSON scalars are shown as their ``repr``).  The frontend sends the
    selected row indices; ``.value`` is a :class:`TableSelection`: the selected rows (the
    original objects; for a dict of columns, one dict per row), in the order sent.
    ``element.value = rows`` takes rows of this table.

    Raises:
        TypeError: ``data`` neither a list nor a dict, rows mixing dicts and other items;
            (convert) not a list of ints.
        ValueError: columns of unequal length, a bad ``selection`` or ``page_size``;
            (convert) an index out of range or repeated, several rows for ``"single"``, any
            row when ``selection`` is ``None``.
    """

    kind = "table"

    def __init__(
        self,
        data: Any,
        *,
        selection: Literal["single", "multi"] | None = "multi",
        value: list[int] | None = None,
        page_size: int = 10,
        label: str = "",
    ) -> None:
        if selection not in ("single", "multi", None):
            raise ValueError(f"table: selection must be 'single', 'multi' or None, got {selection!r}")
        if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
            raise ValueError(f"table: page_size must be a positive int, got {page_size!r}")
        self.selection = selection
        self.rows, keys = self._rows_of(data)
        columns = [_clean_str(k if isinstance(k, str) else str(k)) for k in keys]
        if len(set(columns)) != len(columns):
            raise ValueError(f"table: column names collide once converted to str: {columns!r}")
        if keys == ["value"] and self.rows and not isinstance(self.rows[0], Mapping):
            cells = [[_json_safe(row)] for row in self.rows]
        else:
            cells = [[_json_safe(row.get(k)) for k in keys] for row in self.rows]
        initial = self.convert(list(value) if value is not None else [])
        super().__init__(
            initial, label=label, columns=columns, rows=cells, selection=selection, page_size=page_size
        )

    @staticmethod
    def _rows_of(data: Any) -> tuple[list[Any], list[Any]]:
        if isinstance(data, Mapping):
            keys = list(data)
            columns = []
            for k in keys:
                column = data[k]
                if isinstance(column, (str, bytes)) or not isinstance(column, Iterable):
                    raise TypeError(f"table: column {k!r} must be a list of cells, got {type(column).__name__}")
                columns.append(list(column))
            lengths = {len(c) for c in columns}
            if len(lengths) > 1:
                raise ValueError(f"table: columns have different lengths {sorted(lengths)}")
            return [dict(zip(keys, cells)) for cells in zip(*columns)], keys
        if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
            raise TypeError(f"table: data must be a list of rows or a dict of columns, got {type(data).__name__}")
        rows = list(data)
        dict_rows = [isinstance(r, Mapping) for r in rows]
        if rows and all(dict_rows):
            keys: list[Any] = []
            seen: set[Any] = set()
            for row in rows:
                for k in row:
                    if k not in seen:
                        seen.add(k)
                        keys.append(k)
            return rows, keys
        if any(dict_rows):
            raise TypeError("table: rows mix dicts and other values")
        return rows, ["value"] if rows else []

    def _selection(self, indices: list[int]) -> TableSelection:
        return TableSelection([self.rows[i] for i in indices], indices)

    def _restore(self, previous: Any, initial: Any) -> Any:
        if isinstance(previous, TableSelection) and all(0 <= i < len(self.rows) for i in previous.indices):
            return self._selection(previous.indices)
        return initial

    def convert(self, raw: Any) -> Any:
        if not isinstance(raw, (list, tuple)):
            raise TypeError(f"expected a list of row indices, got {type(raw).__name__}")
        indices: list[int] = []
        for i in raw:
            if not isinstance(i, int) or isinstance(i, bool):
                raise TypeError(f"row index {i!r} is not an int")
            if not 0 <= i < len(self.rows):
                raise ValueError(f"row index {i} is out of range (the table has {len(self.rows)} rows)")
            if i in indices:
                raise ValueError(f"row index {i} is selected twice")
            indices.append(i)
        if self.selection is None and indices:
            raise ValueError("this table does not allow selecting rows")
        if self.selection == "single" and len(indices) > 1:
            raise ValueError(f"{len(indices)} rows selected in a single-selection table")
        return self._selection(indices)

    def coerce(self, value: Any) -> Any:
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise TypeError(f"expected a list of rows of this table, got {type(value).__name__}")
        indices: list[int] = []
        for row in value:
            found = next((i for i, r in enumerate(self.rows) if r is row and i not in indices), None)
            if found is None:
                found = next((i for i, r in enumerate(self.rows) if i not in indices and _same(r, row)), None)
            if found is None:
                raise ValueError(f"{row!r} is not a row of this table")
            indices.append(found)
        return self.convert(indices)

    def wire_value(self) -> Any:
        return list(self._value.indices)
