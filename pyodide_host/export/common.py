"""What every part of :mod:`pyodide_host.export` shares: :class:`ExportError`, the
:data:`Progress` callback and its reporting, requirement names.

CPython only; imports the standard library and :mod:`pyodide_host.build`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pyodide_host.build.common import BuildError, normalize

__all__ = ["ExportError", "Progress", "report", "requirement_name"]

Progress = Callable[[str, "float | None"], None]
"""``progress(message, fraction)``: what is happening, and how far the whole job is (0..1, or
``None`` when unknown)."""


class ExportError(BuildError):
    """Exporting failed; the message is one line saying what and why."""


def report(progress: Progress | None, message: str, fraction: float | None) -> None:
    """Call ``progress`` (if any) with ``fraction`` clamped to 0..1."""
    if progress is not None:
        progress(message, None if fraction is None else max(0.0, min(1.0, fraction)))


def requirement_name(text: str) -> str:
    """The normalised project name of a PEP 508 requirement.

    Raises:
        ExportError: not a requirement.
    """
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
    if match is None:
        raise ExportError(f"not a package requirement: {text!r}")
    return normalize(match.group(1))
