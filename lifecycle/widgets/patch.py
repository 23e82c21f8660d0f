"""The process-wide patch of ``comm.create_comm`` and ``comm.get_comm_manager``.

While at least one kernel has the widget extension installed, both are replaced: at
:func:`_acquire` time if ``comm`` is already imported, otherwise by a post-import hook
(:func:`lifecycle.import_hooks.when_imported`) the moment a cell first imports ``comm``.
Inside an amphikernel context the replacements route to the kernel's comm manager
(:class:`~lifecycle.widgets.comm.KernelCommManager`); outside any they fall back to the
originals.  The last :func:`_release` restores the originals and cancels the hook.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lifecycle import context as context_mod
from lifecycle import import_hooks
from lifecycle.widgets.comm import KernelCommManager

if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

_patch_lock = threading.RLock()
_users = 0
_originals: tuple[ModuleType, Any, Any] | None = None
_cancel_hook: Callable[[], None] | None = None  # while the hook waits for ``comm``


def _current_manager() -> KernelCommManager | None:
    ctx = context_mod.current_or_none()
    if ctx is None:
        return None
    manager = ctx.extensions.get("widgets")
    if isinstance(manager, KernelCommManager) and not manager.closed:
        return manager
    return None


def _create_comm(*args: Any, **kwargs: Any) -> Any:
    """Replacement of ``comm.create_comm``: an amphikernel comm inside a kernel."""
    manager = _current_manager()
    if manager is not None:
        return manager.create_comm(*args, **kwargs)
    original = _originals[1] if _originals is not None else getattr(sys.modules.get("comm"), "_create_comm", None)
    if original is None or original is _create_comm:  # pragma: no cover - defensive
        raise RuntimeError("comm.create_comm: no comm implementation available")
    return original(*args, **kwargs)


def _get_comm_manager() -> Any:
    """Replacement of ``comm.get_comm_manager``: the kernel's :class:`WidgetManager`."""
    manager = _current_manager()
    if manager is not None:
        return manager
    original = _originals[2] if _originals is not None else getattr(sys.modules.get("comm"), "_get_comm_manager", None)
    if original is None or original is _get_comm_manager:  # pragma: no cover - defensive
        raise RuntimeError("comm.get_comm_manager: no comm manager available")
    return original()


def _patch(module: ModuleType) -> None:
    global _originals
    with _patch_lock:
        if _users == 0 or _originals is not None:
            return
        _originals = (module, module.create_comm, module.get_comm_manager)
        module.create_comm = _create_comm
        module.get_comm_manager = _get_comm_manager


def _unpatch() -> None:
    global _originals
    with _patch_lock:
        if _originals is None:
            return
        module, create, get = _originals
        _originals = None
        if getattr(module, "create_comm", None) is _create_comm:
            module.create_comm = create
        if getattr(module, "get_comm_manager", None) is _get_comm_manager:
            module.get_comm_manager = get


def _comm_imported(module: ModuleType) -> None:
    """The post-import hook: ``comm`` was just imported."""
    global _cancel_hook
    with _patch_lock:
        _cancel_hook = None
        _patch(module)


def _remove_hook() -> None:
    global _cancel_hook
    with _patch_lock:
        if _cancel_hook is not None:
            _cancel_hook()
        _cancel_hook = None


def _acquire() -> None:
    global _users, _cancel_hook
    with _patch_lock:
        _users += 1
        if _users > 1:
            return
        module = sys.modules.get("comm")
        if module is not None:
            _patch(module)
        elif _cancel_hook is None:
            _cancel_hook = import_hooks.when_imported("comm", _comm_imported)


def _release() -> None:
    global _users
    with _patch_lock:
        _users = max(0, _users - 1)
        if _users:
            return
        _remove_hook()
        _unpatch()


def is_patched() -> bool:
    """Whether ``comm`` is patched or the import hook is waiting for it (any live kernel)."""
    with _patch_lock:
        return _originals is not None or _cancel_hook is not None
