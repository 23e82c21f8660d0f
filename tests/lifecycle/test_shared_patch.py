"""lifecycle.shared_patch: a reference-counted attribute replacement, on a real module object."""

from __future__ import annotations

import threading
import types

import pytest

from lifecycle.shared_patch import SharedPatch

pytestmark = pytest.mark.timeout(30)


def replacement() -> str:
    return "ours"


def test_the_last_uninstall_restores_what_was_there() -> None:
    owner = types.ModuleType("_owner")
    owner.func = original = lambda: "original"  # type: ignore[attr-defined]
    patch = SharedPatch(owner, "func", replacement)
    with pytest.raises(LookupError):
        patch.original  # noqa: B018 - not installed
    patch.install()
    patch.install()
    assert owner.func is replacement and patch.original is original  # type: ignore[attr-defined]
    patch.uninstall()
    assert owner.func is replacement  # type: ignore[attr-defined]  # one user left
    patch.uninstall()
    assert owner.func is original  # type: ignore[attr-defined]
    patch.uninstall()  # extra calls do nothing
    assert owner.func is original  # type: ignore[attr-defined]
    with pytest.raises(LookupError):
        patch.original  # noqa: B018


def test_an_attribute_that_did_not_exist_is_deleted_unless_replaced_meanwhile() -> None:
    owner = types.ModuleType("_owner")
    patch = SharedPatch(owner, "func", replacement)
    patch.install()
    assert owner.func is replacement  # type: ignore[attr-defined]
    with pytest.raises(LookupError):
        patch.original  # noqa: B018 - there was none
    patch.uninstall()
    assert not hasattr(owner, "func")
    patch.install()
    owner.func = other = lambda: "someone else's"  # type: ignore[attr-defined]
    patch.uninstall()
    assert owner.func is other  # type: ignore[attr-defined]


def test_installs_and_uninstalls_from_many_threads_balance() -> None:
    owner = types.ModuleType("_owner")
    owner.func = original = lambda: "original"  # type: ignore[attr-defined]
    patch = SharedPatch(owner, "func", replacement)
    patch.install()
    start = threading.Barrier(8)
    seen: list[object] = []

    def user() -> None:
        start.wait()
        for _ in range(200):
            patch.install()
            seen.append(owner.func)  # type: ignore[attr-defined]
            patch.uninstall()

    threads = [threading.Thread(target=user) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 1600 and set(map(id, seen)) == {id(replacement)}
    assert owner.func is replacement  # type: ignore[attr-defined]  # the first user remains
    patch.uninstall()
    assert owner.func is original  # type: ignore[attr-defined]
