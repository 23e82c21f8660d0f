"""Kernel settings (:class:`KernelConfig`) and the outcome of one cell run (:data:`Outcome`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lifecycle.graph import Semantics

Outcome = Literal["ok", "error", "interrupted", "exited", "skipped"]
"""How one cell run ended."""


@dataclass
class KernelConfig:
    """Kernel settings.

    Attributes:
        mode: ``"edit"`` (code may change; variables are reported) or ``"run"`` (app mode).
        semantics: ``"script"`` (default) or ``"strict"``.
        output_max_bytes: outputs larger than this many bytes become a notice.
        autorun: run descendants of a changed cell (otherwise they are marked stale).
        install_main: make the kernel's module ``sys.modules["__main__"]`` (one kernel per
            process only), so ``pickle`` and ``mock.patch("__main__.X")`` see cell globals.
        redact_tracebacks: omit source lines from tracebacks (app mode hides code).
    """

    mode: Literal["edit", "run"] = "edit"
    semantics: Semantics = "script"
    output_max_bytes: int = 10_000_000
    autorun: bool = True
    install_main: bool = False
    redact_tracebacks: bool = False
