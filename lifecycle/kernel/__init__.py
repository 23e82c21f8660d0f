"""The reactive kernel: owns the cells, the dataflow graph and the globals, and runs cells.

:class:`Kernel` (``core``) handles one command at a time and reports through ``emit``;
``config`` holds its settings, ``values`` the script-semantics bookkeeping
of each cell's contribution, ``ui_updates`` the merge of waiting UI/widget updates, and
``variables`` the variables report.  The kernel knows nothing of the loop that drives it nor of
the I/O services (display, console, UI elements, completion, packages): those are given to it
through ``Kernel.extensions`` by :mod:`lifecycle.kernel_lifecycle`.  May import: the standard
library, msgspec and the lower layers (:mod:`lifecycle.protocol`, :mod:`lifecycle.analysis`,
:mod:`lifecycle.graph`) and its own layer (:mod:`lifecycle.execution`,
:mod:`lifecycle.context`, :mod:`lifecycle.outputs`); never an I/O service or
:mod:`lifecycle.kernel_lifecycle`.
"""

from lifecycle.kernel.config import KernelConfig, Outcome
from lifecycle.kernel.core import CellHook, FinishHook, Hooks, Kernel, PostHook, PreHook
from lifecycle.kernel.ui_updates import merge_ui_updates, place_buffers

__all__ = [
    "CellHook",
    "FinishHook",
    "Hooks",
    "Kernel",
    "KernelConfig",
    "Outcome",
    "PostHook",
    "PreHook",
    "merge_ui_updates",
    "place_buffers",
]
