"""Installing requirements in Pyodide: micropip, the runtime's lock, the kernel's installer.

:func:`install_with_micropip` is what the ``install-packages`` command runs in the session
(:meth:`pyodide_host.session.Session.install_packages`): micropip (loaded on first use) looks in
the given index URLs first (the site's own PEP 503 index), then in the runtime's lock.
:func:`load_from_lock` loads lock packages with ``pyodide.loadPackage``.
:class:`AwaitableInstaller` adapts such an async installer to the kernel's ``installer``
extension.

Imports only the standard library and :mod:`lifecycle` at import time; ``micropip`` and
``pyodide_js`` only when called inside Pyodide.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from lifecycle.packages import InvalidRequirementError, check_requirement
from pyodide_host.frames import one_line

__all__ = ["AwaitableInstaller", "PendingInstall", "install_with_micropip", "load_from_lock"]


async def install_with_micropip(
    packages: list[str], index_urls: Sequence[str] = ()
) -> tuple[list[str], dict[str, str]]:
    """Install requirements with micropip, looking in ``index_urls`` first.

    Returns:
        ``(installed, failed)``: requirements installed, requirement -> one-line reason.
    """
    installed: list[str] = []
    failed: dict[str, str] = {}
    valid: list[str] = []
    for requirement in packages:
        try:
            valid.append(check_requirement(requirement))
        except InvalidRequirementError as exc:
            failed[requirement] = str(exc)
    if not valid:
        return installed, failed
    try:
        micropip = await _micropip()
    except Exception as exc:
        return installed, {**failed, **{r: f"micropip is not available: {exc}" for r in valid}}
    for requirement in valid:
        try:
            kwargs: dict[str, Any] = {}
            if index_urls:
                kwargs["index_urls"] = list(index_urls)
            await micropip.install(requirement, **kwargs)
        except Exception as exc:
            failed[requirement] = one_line(exc)
        else:
            installed.append(requirement)
    if installed:
        importlib.invalidate_caches()
    return installed, failed


class AwaitableInstaller:
    """Adapts an async installer to ``Kernel._on_install``, which today unpacks the
    installer's result *before* checking whether it is awaitable
    (``installed, failed = installer(packages)``; then ``await installed`` if awaitable).
    The call returns an object that is awaitable (giving ``(installed, failed)``) and also
    unpacks as ``(itself, None)``, so it works with that code and with a core that awaits
    the result first."""

    def __init__(self, install: Callable[[list[str]], Any]) -> None:
        self._install = install

    def __call__(self, packages: list[str]) -> PendingInstall:
        return PendingInstall(self._install(list(packages)))


class PendingInstall:
    """One call of :class:`AwaitableInstaller`: awaitable, and unpacks as ``(itself, None)``."""

    __slots__ = ("_awaitable",)

    def __init__(self, awaitable: Any) -> None:
        self._awaitable = awaitable

    def __await__(self) -> Any:
        return self._awaitable.__await__()

    def __iter__(self) -> Any:
        return iter((self, None))


async def load_from_lock(names: list[str]) -> None:
    """Load lock packages with ``pyodide.loadPackage`` (inside Pyodide)."""
    import pyodide_js  # type: ignore[import-not-found]
    from pyodide.ffi import to_js  # type: ignore[import-not-found]

    await pyodide_js.loadPackage(to_js(list(names)))


async def _micropip() -> Any:
    try:
        import micropip  # type: ignore[import-not-found]
    except ImportError:
        if sys.platform != "emscripten":
            raise
        import pyodide_js  # type: ignore[import-not-found]

        await pyodide_js.loadPackage("micropip")
        import micropip  # type: ignore[import-not-found]
    return micropip
