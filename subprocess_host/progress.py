"""Progress of long CLI commands on stderr (``amphi export``), drawn by rich: one bar for the
command's steps and one per download (bytes received of the total).

Silent when asked to be (``--quiet``) or when stderr is not a terminal (CI logs, pipes);
notices (a damaged cache entry fetched again) are still printed then, unless ``--quiet``.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

__all__ = ["ExportProgress"]


class ExportProgress:
    """A rich progress display for :func:`pyodide_host.export.export_html_wasm`.

    Use as a context manager; pass the instance as ``progress``, :meth:`download` as
    ``on_bytes`` and :meth:`notice` as ``notice``.

    Args:
        quiet: draw nothing and print no notices.
        stream: where to draw (default ``sys.stderr``); bars only when it is a terminal.
    """

    def __init__(self, quiet: bool = False, stream: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
        from rich.table import Column

        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.console = Console(file=self.stream)
        self.enabled = not quiet and self.console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description}", table_column=Column(max_width=40, no_wrap=True, overflow="ellipsis")),
            BarColumn(bar_width=20),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}", table_column=Column(no_wrap=True)),
            console=self.console,
            disable=not self.enabled,
            transient=True,
        )
        self._step = self.progress.add_task("export", total=1.0, detail="")
        self._downloads: dict[str, Any] = {}

    def __enter__(self) -> ExportProgress:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.stop()

    def __call__(self, message: str, fraction: float | None) -> None:
        """The export's step ``message``, ``fraction`` (0..1) of the whole done (``None``: unknown)."""
        self.progress.update(self._step, description=message[:60], completed=fraction if fraction is not None else None)

    def download(self, name: str, received: int, total: int | None) -> None:
        """``received`` bytes of ``name`` so far, of ``total`` (``None`` when unknown)."""
        from rich.filesize import decimal

        task = self._downloads.get(name)
        if task is None:
            task = self._downloads[name] = self.progress.add_task(f"downloading {name}", total=total, detail="")
        size = f"{decimal(received)}" + (f" / {decimal(total)}" if total else "")
        self.progress.update(task, completed=received, total=total, detail=size)

    def notice(self, message: str) -> None:
        """Print a one-line notice (``amphi: note: ...``) unless quiet."""
        if self.quiet:
            return
        if self.enabled:
            self.progress.console.print(f"amphi: note: {message}", markup=False, highlight=False)
        else:
            print(f"amphi: note: {message}", file=self.stream, flush=True)
