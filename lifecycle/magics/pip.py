"""``%pip ...``: install packages into the kernel's own environment, with visible progress.

* With processes (CPython hosts): ``python -m pip <args>`` with the kernel's interpreter
  (what the default ``installer`` extension of :mod:`lifecycle.packages` runs too) on a
  pseudo-terminal, as IPython's ``%pip`` runs it through ``!cmd`` (pip sees a terminal,
  lines end with ``\\r\\n``), its output streamed to the cell as it comes; every pip
  subcommand and option works
  (``%pip install -q -U x``, ``%pip list``, ``%pip uninstall -y x``).  A non-zero exit
  raises :class:`PipError` after pip's own messages.
* In Pyodide: ``%pip install req ...`` goes through the kernel's ``installer`` extension
  (micropip, the site's own index first; set by the Pyodide session), one progress line
  before and one result line after; ``-r file`` is read, other options are ignored.  The
  generated code awaits it (``await __amphi_magic__.pip(...)``), so ``%pip`` must stand at
  the top level of the cell there.
"""

from __future__ import annotations

import importlib
import shlex
import sys
from typing import Any

from lifecycle import context as context_mod
from lifecycle.magics.base import MagicCall, UsageError, in_browser
from lifecycle.magics.processes import run_command

__all__ = ["PipError", "pip", "pip_blocking", "pip_with_installer"]

_VALUE_OPTIONS = frozenset({
    "-i", "--index-url", "--extra-index-url", "-c", "--constraint", "-f", "--find-links",
    "-t", "--target", "--prefix", "--root", "--platform", "--python-version",
})


class PipError(Exception):
    """``%pip`` failed (pip's own messages were shown above it)."""


def _words(args: str) -> list[str]:
    try:
        return shlex.split(args)
    except ValueError as exc:
        raise UsageError(f"%pip: {exc}") from None


def pip_blocking(args: str) -> None:
    """``%pip`` through a pip subprocess (CPython hosts).

    Raises:
        UsageError: no arguments, or in Pyodide (use ``%pip`` at the top level there).
        PipError: pip exited with a non-zero status.
    """
    words = _words(args)
    if not words:
        raise UsageError("%pip: a pip command is needed, e.g. %pip install numpy")
    if in_browser():
        raise UsageError(
            "%pip must stand at the top level of a cell in the browser (micropip installs "
            "asynchronously)"
        )
    status, _ = run_command([sys.executable, "-m", "pip", *words], shell=False, terminal=True)
    importlib.invalidate_caches()
    if status:
        raise PipError(f"pip {words[0]} failed (exit status {status})")


def _requirements(words: list[str]) -> list[str]:
    if not words or words[0] != "install":
        raise UsageError("%pip: only `%pip install ...` is available in the browser (micropip)")
    requirements: list[str] = []
    i = 1
    while i < len(words):
        word = words[i]
        if word in ("-r", "--requirement") and i + 1 < len(words):
            with open(words[i + 1], encoding="utf-8") as fh:
                requirements += [ln.split("#", 1)[0].strip() for ln in fh if ln.split("#", 1)[0].strip()]
            i += 2
            continue
        if word in _VALUE_OPTIONS:
            i += 2
            continue
        if not word.startswith("-"):
            requirements.append(word)
        i += 1
    if not requirements:
        raise UsageError("%pip install: no package given")
    return requirements


async def pip_with_installer(args: str, installer: Any) -> None:
    """``%pip install ...`` through a kernel ``installer`` extension (``(requirements) ->
    (installed, failed)``, possibly awaitable).

    Raises:
        UsageError: not an ``install`` command, or no requirement.
        PipError: some requirements failed (each with its reason).
    """
    requirements = _requirements(_words(args))
    print(f"Installing {', '.join(requirements)} ...", flush=True)
    result = installer(requirements)
    if hasattr(result, "__await__"):
        result = await result
    installed, failed = result
    if installed:
        print(f"Successfully installed {' '.join(installed)}")
    if failed:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in failed.items())
        raise PipError(f"could not install {reasons}")


async def pip(args: str) -> None:
    """``%pip`` at the top level of a cell (awaited by the generated code)."""
    if not in_browser():
        pip_blocking(args)
        return
    ctx = context_mod.current_or_none()
    installer = ctx.extensions.get("installer") if ctx is not None else None
    if installer is None:
        raise UsageError("%pip: this kernel has no package installer")
    await pip_with_installer(args, installer)


def _line_pip(call: MagicCall) -> None:
    pip_blocking(call.args)


LINE_MAGICS = {"pip": _line_pip}
CELL_MAGICS: dict[str, Any] = {}
