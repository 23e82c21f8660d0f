"""Shell commands: ``!cmd``, ``x = !cmd`` / ``!!cmd``, ``%%bash``, ``%%sh``, ``%sx``/``%system``.

As in IPython's kernel (how they run: :mod:`lifecycle.magics.processes`):

* ``!cmd`` runs ``$SHELL -c cmd`` on a pseudo-terminal: the command sees a terminal, its
  stdout and stderr are merged, line ends reach the cell's stdout as ``\r\n``, as they are
  streamed while it runs.  Its exit status is not an error.
* ``x = !cmd`` (``!!cmd``, ``%sx``, ``%system``) runs it on pipes (stdout and stderr merged,
  nothing shown) and returns the output's lines as an :class:`SList`.
* ``%%bash`` / ``%%sh`` run ``bash`` / ``sh`` with the cell's body on their stdin, on pipes:
  stdout to the cell's stdout, stderr to its stderr; a non-zero exit status raises
  :class:`subprocess.CalledProcessError` (its ``cmd`` the body's bytes, as IPython's).

A command line ending with ``&`` raises ``OSError: Background processes not supported.``
(IPython's check).  In Pyodide there are no processes: every shell form raises one clear
:class:`UsageError`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from lifecycle.magics.base import MagicCall, in_browser
from lifecycle.magics.processes import no_processes, run_command

__all__ = ["SList", "getoutput", "run_command", "system"]


class SList(list):  # type: ignore[type-arg]
    """The lines of a command's output (``x = !ls``): a ``list`` of ``str`` with IPython's
    shortcuts ``.l`` (the list), ``.n`` (lines joined by newlines), ``.s`` (joined by spaces)
    and ``.p`` (the lines as :class:`pathlib.Path` objects, existing paths only)."""

    @property
    def l(self) -> list[str]:  # noqa: E743 - IPython's name
        return list(self)

    @property
    def n(self) -> str:
        return "\n".join(self)

    @property
    def s(self) -> str:
        return " ".join(self)

    @property
    def p(self) -> list[Any]:
        from pathlib import Path

        return [Path(line) for line in self if os.path.exists(line)]

    get_list = l
    get_nlstr = n
    get_spstr = s
    get_paths = p

    def grep(self, pattern: str, prune: bool = False) -> SList:
        """The lines matching the regular expression ``pattern`` (``prune``: not matching)."""
        import re

        regex = re.compile(pattern)
        return SList(line for line in self if bool(regex.search(line)) != prune)


def _foreground(cmd: str) -> None:
    if cmd.rstrip().endswith("&"):
        raise OSError("Background processes not supported.")


def system(cmd: str) -> None:
    """``!cmd``: run ``cmd`` in a shell on a pseudo-terminal, its output streamed to the
    cell's stdout.

    Raises:
        OSError: ``cmd`` ends with ``&``, or the shell could not start.
        UsageError: in Pyodide.
        KeyboardInterrupt: interrupted (the command was stopped first).
    """
    if not cmd.strip():
        return
    _foreground(cmd)
    run_command(cmd, terminal=True)


def getoutput(cmd: str) -> SList:
    """``x = !cmd``: run ``cmd`` in a shell on pipes and return its output's lines (stdout
    and stderr merged, line ends removed, nothing shown).

    Raises:
        OSError: ``cmd`` ends with ``&``, or the shell could not start.
        UsageError: in Pyodide.
        KeyboardInterrupt: interrupted (the command was stopped first).
    """
    if not cmd.strip():
        return SList()
    _foreground(cmd)
    _, output = run_command(cmd, write=lambda text: None)
    return SList(output.splitlines())


def _line_sx(call: MagicCall) -> SList:
    return getoutput(call.args)


def _line_system(call: MagicCall) -> SList:
    return getoutput(call.args)


def _cell_script(program: str) -> Callable[[MagicCall], None]:
    def run(call: MagicCall) -> None:
        if in_browser():
            raise no_processes(f"%%{call.name} cells")
        assert call.body is not None
        body = call.body if call.body.endswith("\n") else call.body + "\n"
        script = body.encode("utf-8", "replace")
        try:
            status, _ = run_command([program], shell=False, write_err=_stderr, stdin=script)
        except FileNotFoundError:
            print(f"Couldn't find program: {program!r}")
            return
        if status:
            raise subprocess.CalledProcessError(status, script)

    run.__doc__ = f"``%%{program}``: run ``{program}`` with the cell's body on its stdin."
    return run


def _stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


LINE_MAGICS = {"sx": _line_sx, "system": _line_system}
CELL_MAGICS = {"bash": _cell_script("bash"), "sh": _cell_script("sh")}
