"""Fixtures of the scale tests: 3 apps, and 3 server instances behind a real HAProxy.

Reusable with another provisioner: override the module-scoped ``instance_args`` fixture (extra
``amphi run`` arguments, e.g. ``["--provisioner", "ray", "--ray-address", address]``) in a
test module, and use ``deployment`` (a started :class:`tests.scale.haproxy.Deployment`) and
``apps_dir``.  Nothing here runs unless haproxy is installed (``deploy/install-haproxy.sh``,
part of ``make setup``); a missing haproxy is an error, not a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lifecycle.notebook import Cell, Notebook, write_notebook

from .haproxy import Deployment, become_subreaper, haproxy_binary, leave_subreaper

APPS = ("alpha", "beta", "gamma")
SLIDER_CELLS = ("APP = {name!r}", "from lifecycle import ui\ns = ui.slider(0, 1000000, value=0)\ns",
                "print(APP, s.value)")
PRINT_CELL = 2
"""Index of the print cell in the notebook."""
GRACE = 8.0
"""Seconds a session without a reader is kept (short: the clean-end check waits for it)."""


def write_apps(root: Path) -> Path:
    """``alpha.py``, ``beta.py``, ``gamma.py``: a slider and a cell printing its value."""
    root.mkdir(parents=True, exist_ok=True)
    for name in APPS:
        cells = [Cell(id=f"c{i}", kind="code", source=s.format(name=name)) for i, s in enumerate(SLIDER_CELLS)]
        write_notebook(root / f"{name}.py", Notebook(cells=cells))
    return root


@pytest.fixture(scope="package", autouse=True)
def _subreaper_ends_with_the_package() -> Iterator[None]:
    """The scale tests make pytest a child subreaper; later packages must not inherit it."""
    yield
    leave_subreaper()


@pytest.fixture(scope="module")
def apps_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_apps(tmp_path_factory.mktemp("scale-apps"))


@pytest.fixture(scope="module")
def instance_args() -> list[str]:
    """Extra ``amphi run`` arguments of every instance (none: the local provisioner)."""
    return []


@pytest.fixture(scope="module")
def deployment(apps_dir: Path, instance_args: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    haproxy_binary()
    become_subreaper()  # app processes orphaned by a killed instance are reaped by the tests
    deployed = Deployment(apps_dir, tmp_path_factory.mktemp("scale-run"), grace=GRACE, extra_args=instance_args)
    try:
        deployed.start()
        yield deployed
    finally:
        deployed.stop()
