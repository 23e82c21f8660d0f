"""Process-wide attribute replacements shared by the kernels of a process.

A :class:`SharedPatch` ``(owner, name, value)`` sets ``owner.name = value`` (e.g. a builtin such
as ``display``, or ``getpass.getpass``) while at least one kernel uses it: reference counted,
thread safe, and the last :meth:`~SharedPatch.uninstall` restores what was there before the
first :meth:`~SharedPatch.install`.  Kernels that are threads of one process (run mode) share
builtins and modules, so each installs once at start and uninstalls once at teardown.
Stdlib only; imports nothing else of lifecycle.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["SharedPatch"]

_MISSING: Any = object()


class SharedPatch:
    """``owner.name = value`` while installed (reference counted).

    Args:
        owner: the object whose attribute is replaced (a module, e.g. :mod:`builtins`).
        name: the attribute's name.
        value: what the attribute is while installed.
    """

    def __init__(self, owner: Any, name: str, value: Any) -> None:
        self.owner = owner
        self.name = name
        self.value = value
        self._lock = threading.Lock()
        self._users = 0
        self._saved: list[Any] = []  # [what was there] while installed

    def install(self) -> None:
        """One more user: the first one remembers ``owner.name`` (or its absence) and sets
        it to ``value``."""
        with self._lock:
            if self._users == 0:
                self._saved[:] = [getattr(self.owner, self.name, _MISSING)]
                setattr(self.owner, self.name, self.value)
            self._users += 1

    def uninstall(self) -> None:
        """Undo one :meth:`install` (extra calls do nothing).  The last one puts back what
        was there; an attribute that did not exist is deleted, unless something else
        replaced ``value`` meanwhile."""
        with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users:
                return
            saved = self._saved.pop() if self._saved else _MISSING
            if saved is _MISSING:
                if getattr(self.owner, self.name, None) is self.value:
                    delattr(self.owner, self.name)
            else:
                setattr(self.owner, self.name, saved)

    @property
    def original(self) -> Any:
        """What ``owner.name`` was before the first :meth:`install`.

        Raises:
            LookupError: not installed, or the attribute did not exist then.
        """
        saved = next(iter(self._saved), _MISSING)
        if saved is _MISSING:
            raise LookupError(f"{self.name} is not patched or had no original value")
        return saved
