"""How display problems reach the user (see :mod:`lifecycle.display.formatting`).

* :func:`show_errors`: an exception raised by a repr method is shown as Jupyter shows a
  formatter's exception: a ``cell-error`` with ``fatal=False`` for the running cell (after its
  pending console output, through the kernel's ``emit_error`` so run mode redacts it), or its
  traceback on ``sys.stderr`` outside a cell.
* :func:`report`: a repr method that returned something unusable is named on ``sys.stderr``
  (IPython warns with a ``FormatterWarning``).

Neither raises.
"""

from __future__ import annotations

import sys
from typing import Any

from lifecycle import context as context_module
from lifecycle.execution import format_exception

__all__ = ["report", "show_errors"]


def show_errors(errors: list[BaseException]) -> None:
    """Show exceptions raised by repr methods (see the module docstring); never raises."""
    for exc in errors:
        try:
            _show_error(exc)
        except Exception:
            pass


def _show_error(exc: BaseException) -> None:
    error = format_exception(exc)  # the runtime's own frames are left out
    ctx = context_module.current_or_none()
    if ctx is None or ctx.cell_id is None:
        sys.stderr.write(error.traceback)
        return
    error.cell_id = ctx.cell_id
    error.fatal = False
    flush = ctx.extensions.get("flush_console")
    if flush is not None:  # what the cell printed before comes first
        flush()
    emit_error = ctx.extensions.get("emit_error")  # the kernel's: redacts in run mode
    (emit_error or ctx.emit)(error)


def report(value: Any, problems: list[str]) -> None:
    """Tell the user (on stderr, as Jupyter does) which repr methods were skipped and why."""
    if not problems:
        return
    try:
        name = type(value).__name__
        lines = "".join(f"amphikernel display of {name}: {problem}\n" for problem in problems)
        sys.stderr.write(lines)
    except Exception:
        pass
