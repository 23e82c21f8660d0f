"""lifecycle.import_hooks: callbacks run right after a module's first import, with real
modules written to a temporary directory on ``sys.path``."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from lifecycle.import_hooks import (
    PostImportFinder,
    SharedHooks,
    is_imported,
    when_imported,
)

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def modules(tmp_path: Path) -> Iterator[Path]:
    """A directory on ``sys.path`` for throw-away modules (forgotten afterwards)."""
    sys.path.insert(0, str(tmp_path))
    before = set(sys.modules)
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in set(sys.modules) - before:
            if name.startswith("_hooked_"):
                del sys.modules[name]


def finders() -> list[object]:
    return [f for f in sys.meta_path if isinstance(f, PostImportFinder)]


def test_callback_runs_after_the_module_executed_before_the_importer_gets_it(modules: Path) -> None:
    (modules / "_hooked_a.py").write_text("VALUE = 1\n")
    seen: list[tuple[str, int]] = []

    def patch(module: ModuleType) -> None:
        seen.append((module.__name__, module.VALUE))
        module.VALUE = 2

    when_imported("_hooked_a", patch)
    assert len(finders()) == 1 and not is_imported("_hooked_a")
    import _hooked_a  # type: ignore[import-not-found]

    assert seen == [("_hooked_a", 1)] and _hooked_a.VALUE == 2
    assert finders() == []  # nothing pending: the finder stepped out of sys.meta_path
    import importlib

    importlib.reload(_hooked_a)
    assert seen == [("_hooked_a", 1)]  # once


def test_submodules_and_several_callbacks_in_order(modules: Path) -> None:
    package = modules / "_hooked_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "sub.py").write_text("X = 'sub'\n")
    order: list[str] = []
    when_imported("_hooked_pkg.sub", lambda m: order.append("first " + m.X))
    when_imported("_hooked_pkg.sub", lambda m: order.append("second " + m.X))
    from _hooked_pkg import sub  # type: ignore[import-not-found]  # noqa: F401

    assert order == ["first sub", "second sub"]


def test_already_imported_runs_now_and_cancel_stops_a_pending_one(modules: Path) -> None:
    (modules / "_hooked_b.py").write_text("")
    (modules / "_hooked_c.py").write_text("")
    import _hooked_b  # type: ignore[import-not-found]  # noqa: F401

    ran: list[str] = []
    cancel_b = when_imported("_hooked_b", lambda m: ran.append(m.__name__))
    assert ran == ["_hooked_b"]
    cancel_b()  # a no-op once it ran
    cancel = when_imported("_hooked_c", lambda m: ran.append(m.__name__))
    cancel()
    cancel()
    assert finders() == []
    import _hooked_c  # type: ignore[import-not-found]  # noqa: F401

    assert ran == ["_hooked_b"]


def test_a_failing_callback_is_logged_and_the_import_succeeds(
    modules: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (modules / "_hooked_d.py").write_text("OK = True\n")

    def broken(module: ModuleType) -> None:
        raise RuntimeError("patch broke")

    when_imported("_hooked_d", broken)
    with caplog.at_level(logging.ERROR, logger="amphikernel.lifecycle"):
        import _hooked_d  # type: ignore[import-not-found]
    assert _hooked_d.OK
    assert "patch broke" in caplog.text


def test_a_module_that_fails_to_import_keeps_its_callback(modules: Path) -> None:
    source = modules / "_hooked_e.py"
    source.write_text("raise ImportError('not yet')\n")
    ran: list[str] = []
    when_imported("_hooked_e", lambda m: ran.append(m.FIXED))
    with pytest.raises(ImportError, match="not yet"):
        import _hooked_e  # type: ignore[import-not-found]
    assert ran == [] and len(finders()) == 1
    source.write_text("FIXED = 'second try'\n")
    import importlib

    importlib.invalidate_caches()
    sys.modules.pop("_hooked_e", None)
    import _hooked_e  # type: ignore[import-not-found]  # noqa: F401

    assert ran == ["second try"] and finders() == []


def test_shared_hooks_register_once_and_the_last_release_cancels(modules: Path) -> None:
    (modules / "_hooked_f.py").write_text("")
    (modules / "_hooked_g.py").write_text("")
    ran: list[str] = []
    listed: list[int] = []

    def hooks() -> list[tuple[str, Callable[[ModuleType], None]]]:
        listed.append(1)
        return [(name, lambda m: ran.append(m.__name__)) for name in ("_hooked_f", "_hooked_g")]

    shared = SharedHooks()
    shared.acquire(hooks)
    shared.acquire(hooks)  # a second user: hooks() is not asked again
    assert listed == [1] and len(finders()) == 1
    import _hooked_f  # type: ignore[import-not-found]  # noqa: F401

    assert ran == ["_hooked_f"]
    shared.release()
    assert len(finders()) == 1  # one user left: _hooked_g is still watched
    shared.release()
    shared.release()  # extra releases do nothing
    assert finders() == []
    import _hooked_g  # type: ignore[import-not-found]  # noqa: F401

    assert ran == ["_hooked_f"]
    shared.acquire(hooks)  # a new first user registers again; _hooked_g is imported: runs now
    assert listed == [1, 1] and ran == ["_hooked_f", "_hooked_f", "_hooked_g"]
    shared.release()


def test_lazy_exports_import_a_submodule_on_first_use(modules: Path) -> None:
    package = modules / "_hooked_lazy"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from lifecycle.import_hooks import lazy_exports\n"
        "__getattr__, __dir__ = lazy_exports(__name__, {'thing': 'part'})\n"
    )
    (package / "part.py").write_text("thing = object()\n")
    import _hooked_lazy  # type: ignore[import-not-found]

    assert "_hooked_lazy.part" not in sys.modules
    assert "thing" in dir(_hooked_lazy)
    thing = _hooked_lazy.thing
    assert thing is sys.modules["_hooked_lazy.part"].thing
    assert vars(_hooked_lazy)["thing"] is thing  # bound: later reads are plain lookups
    with pytest.raises(AttributeError, match="no attribute 'other'"):
        _hooked_lazy.other  # noqa: B018

