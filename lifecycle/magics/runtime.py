"""The ``__amphi_magic__`` builtin: the one object code rewritten by
:mod:`lifecycle.ipython_syntax` calls, and the table of magics behind it.

The object is stateless and shared by every kernel of the process (builtins are
process-wide; kernel threads of run mode share them): whatever needs the kernel (outputs,
the installer, settings) finds the *current* one through :mod:`lifecycle.context`, and
whatever needs the cell's namespaces takes them from the calling frame (the cell's code
calls the methods directly).  Magic families are imported on first use.
"""

from __future__ import annotations

import builtins
import importlib
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from lifecycle.ipython_syntax import MAGIC_NAME
from lifecycle.magics.base import MagicCall, UsageError
from lifecycle.shared_patch import SharedPatch

__all__ = ["RUNTIME", "MagicRuntime", "cell_magics", "install_builtin", "line_magics", "uninstall_builtin"]

Getters = Mapping[str, Callable[[], object]]

_FAMILIES = ("timing", "shell", "environment", "capture", "pip", "rich")
_tables: tuple[dict[str, Any], dict[str, Any]] | None = None
_tables_lock = threading.Lock()


def _load() -> tuple[dict[str, Any], dict[str, Any]]:
    global _tables
    if _tables is None:
        with _tables_lock:
            if _tables is None:
                lines: dict[str, Any] = {}
                cells: dict[str, Any] = {}
                for family in _FAMILIES:
                    module = importlib.import_module(f"lifecycle.magics.{family}")
                    lines.update(module.LINE_MAGICS)
                    cells.update(module.CELL_MAGICS)
                lines["lsmagic"] = _lsmagic
                _tables = (lines, cells)
    return _tables


def line_magics() -> dict[str, Any]:
    """Line magic name -> implementation (``%time`` and ``%timeit`` statements are
    rewritten inline and mostly reach :class:`MagicRuntime` methods instead)."""
    return dict(_load()[0])


def cell_magics() -> dict[str, Any]:
    """Cell magic name -> implementation."""
    return dict(_load()[1])


def _lsmagic(call: MagicCall) -> None:
    """``%lsmagic``: the available magics."""
    lines, cells = _load()
    print("Available line magics:")
    print("  ".join(f"%{name}" for name in sorted(lines)))
    print("\nAvailable cell magics:")
    print("  ".join(f"%%{name}" for name in sorted(cells)))


def _frame() -> Any:
    return sys._getframe(2)  # the code that called the MagicRuntime method


class MagicRuntime:
    """What ``__amphi_magic__`` is (see :mod:`lifecycle.ipython_syntax` for the code that
    calls each method).  Every method raises :class:`UsageError` for unknown magics and
    wrong arguments; errors of the user's code propagate unchanged."""

    __slots__ = ()

    def line(self, name: str, args: str, expand: Getters | None = None) -> Any:
        """``%name args``: run a line magic; returns its value."""
        frame = _frame()
        if name.startswith("%"):
            raise UsageError(
                f"Line magic function `%{name}` not found (a cell magic such as `%{name}` "
                "must be the first line of its cell)."
            )
        impl = _load()[0].get(name)
        if impl is None:
            raise UsageError(f"Line magic function `%{name}` not found.")
        return impl(MagicCall.from_frame(frame, name, args, getters=expand))

    def cell(self, name: str, args: str, body: str, lineno: int, expand: Getters | None = None) -> Any:
        """``%%name args`` + ``body`` (the magic is on cell line ``lineno``)."""
        frame = _frame()
        impl = _load()[1].get(name)
        if impl is None:
            raise UsageError(f"Cell magic `%%{name}` not found.")
        call = MagicCall.from_frame(frame, name, args, lineno=lineno, body=body, getters=expand)
        return impl(call)

    def system(self, cmd: str, expand: Getters | None = None) -> None:
        """``!cmd``."""
        from lifecycle.magics import shell

        call = MagicCall.from_frame(_frame(), "system", cmd, getters=expand)
        shell.system(call.args)

    def getoutput(self, cmd: str, expand: Getters | None = None) -> Any:
        """``x = !cmd`` / ``!!cmd``: the output's lines (an ``SList``)."""
        from lifecycle.magics import shell

        call = MagicCall.from_frame(_frame(), "sx", cmd, getters=expand)
        return shell.getoutput(call.args)

    def timeit(self, args: str, lineno: int, col: int) -> Any:
        """``%timeit args`` on cell line ``lineno``; the statement starts at column ``col``."""
        from lifecycle.magics import timing

        return timing.line_timeit(MagicCall.from_frame(_frame(), "timeit", args, lineno=lineno), col)

    def time(self) -> Any:
        """``with __amphi_magic__.time(): stmt`` (``%time`` of simple statements)."""
        from lifecycle.magics import timing

        return timing.Timer()

    def clock(self) -> tuple[float, float, float]:
        """The start of ``%time expr``: ``timed(clock(), (expr))``."""
        from lifecycle.magics import timing

        return timing.clock()

    def timed(self, start: tuple[float, float, float], value: Any) -> Any:
        """The end of ``%time expr``: print the times since ``start``; returns ``value``."""
        from lifecycle.magics import timing

        timing.report_time(start)
        return value

    def time_exec(self, source: str, lineno: int, col: int) -> None:
        """``%time`` of a compound statement, run in the caller's namespace."""
        from lifecycle.magics import timing

        timing.time_exec(MagicCall.from_frame(_frame(), "time", source, lineno=lineno), col)

    def help(self, name: str, detail: int, getter: Callable[[], Any] | None = None) -> None:
        """``name?`` (``detail`` 1) / ``name??`` (2)."""
        from lifecycle.magics import help as help_mod

        help_mod.show_help(name, detail, getter, _magic_doc)

    async def pip(self, args: str, expand: Getters | None = None) -> None:
        """``%pip args`` at the top level of a cell (awaited)."""
        from lifecycle.magics import pip

        call = MagicCall.from_frame(_frame(), "pip", args, getters=expand)
        await pip.pip(call.args)

    def __repr__(self) -> str:
        return "<amphikernel IPython-syntax runtime>"


def _magic_doc(name: str) -> str | None:
    if name.startswith("%"):
        impl = _load()[1].get(name[1:])
    else:
        impl = _load()[0].get(name) or _load()[1].get(name)
    return getattr(impl, "__doc__", None) if impl is not None else None


RUNTIME = MagicRuntime()
"""The single runtime object (installed as ``builtins.__amphi_magic__``)."""

_builtin = SharedPatch(builtins, MAGIC_NAME, RUNTIME)


def install_builtin() -> None:
    """Install :data:`RUNTIME` as the builtin ``__amphi_magic__`` (reference counted: one
    call per kernel; :func:`uninstall_builtin` undoes one, the last restores what was
    there)."""
    _builtin.install()


def uninstall_builtin() -> None:
    """Undo one :func:`install_builtin` (extra calls do nothing)."""
    _builtin.uninstall()
