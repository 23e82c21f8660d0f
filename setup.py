"""Build hooks of amphikernel's wheel and sdist; the metadata is in ``pyproject.toml``.

Two build outputs are package data and must be in the tree before ``python -m build``:

* the web bundle, ``subprocess_host/static/app/`` (``cd web && npm ci && npm run build``, or
  ``make setup``);
* our Pyodide wheel, ``pyodide_host/prebuilt/`` (``make pyodide-dist``: bytecode compiled
  inside Pyodide under Node.js; see ``pyodide_host/build/prebuilt.py``).

Building a wheel or an sdist without them, or with a Pyodide wheel built from other sources,
stops with one line saying what to run.  An sdist carries both, so ``pip install <sdist>``
needs no Node.js.  Editable installs (``make setup``) are not checked.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import FileError

ROOT = Path(__file__).resolve().parent
BUNDLE = ROOT / "subprocess_host" / "static" / "app"
BUNDLE_FILES = ("index.html", "app.js", "app.css", "worker.js", "sw.js", "coi-serviceworker.js")


def _prebuilt_module():  # type: ignore[no-untyped-def]
    """``pyodide_host/build/prebuilt.py`` loaded by path (standard library only)."""
    spec = importlib.util.spec_from_file_location("_amphi_prebuilt", ROOT / "pyodide_host" / "build" / "prebuilt.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_package_data() -> None:
    """Raise :class:`FileError` (one line) unless the bundle and a current Pyodide wheel are
    in the tree."""
    missing = [name for name in BUNDLE_FILES if not (BUNDLE / name).is_file()]
    if missing:
        raise FileError(
            f"amphikernel: the web bundle lacks {', '.join(missing)} in {BUNDLE}: "
            "run `cd web && npm ci && npm run build` (or `make setup`) first"
        )
    prebuilt = _prebuilt_module()
    problem = prebuilt.check_prebuilt(prebuilt.project_version(ROOT) or "", ROOT)
    if problem is not None:
        raise FileError(f"amphikernel: {problem}")


class BuildPy(build_py):
    """``build_py`` that checks the package data first (not for editable installs)."""

    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            check_package_data()
        super().run()


class Sdist(sdist):
    """``sdist`` that checks the package data first."""

    def run(self) -> None:
        check_package_data()
        super().run()


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
