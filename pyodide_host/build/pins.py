"""What every Pyodide runtime we ship is made of, pinned by hash: the npm ``pyodide`` package
(version and sha512 integrity from ``pyodide_host/npm/package-lock.json``, :func:`npm_pin`)
and the wheels it loads besides ours (:data:`RUNTIME_WHEEL_PINS`: PyPI file, sha256).

The dist builder (``npm ci``, ``pip download``) and the export's downloader
(:mod:`pyodide_host.export.fetch`) both check these.  ``msgspec``'s version is the one
``requirements-dev.txt`` pins for CPython (a test keeps them equal).  To move to another
release: change the version here, and the file name, sha256 and URL from the project's PyPI
simple page (``https://pypi.org/simple/<name>/``, the ``#sha256=`` of the link).

Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyodide_host.build.prebuilt import pyodide_pin

__all__ = ["NPM_REGISTRY", "RUNTIME_WHEEL_PINS", "NpmPin", "WheelPin", "npm_pin", "wheel_pin"]

NPM_REGISTRY = "https://registry.npmjs.org"
"""The npm registry the runtime tarball comes from (``AMPHI_NPM_REGISTRY`` overrides it)."""


@dataclass(frozen=True)
class WheelPin:
    """One wheel from PyPI: its project, version, file name, sha256 (hex) and canonical URL."""

    name: str
    version: str
    filename: str
    sha256: str
    url: str


@dataclass(frozen=True)
class NpmPin:
    """The npm ``pyodide`` package: version and sha512 integrity (``sha512-<base64>``)."""

    name: str
    version: str
    integrity: str

    @property
    def tarball(self) -> str:
        """The tarball's file name, ``pyodide-<version>.tgz``."""
        return f"{self.name}-{self.version}.tgz"

    def url(self, registry: str = NPM_REGISTRY) -> str:
        """The tarball's URL on ``registry`` (npm's layout: ``<registry>/<name>/-/<tarball>``)."""
        return f"{registry.rstrip('/')}/{self.name}/-/{self.tarball}"


RUNTIME_WHEEL_PINS = (
    WheelPin(
        name="msgspec",
        version="0.22.0",
        filename="msgspec-0.22.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        sha256="a66b1766311e42371e509c996c3933b161c7ae0eabdf361af5316dec197e1022",
        url="https://files.pythonhosted.org/packages/75/5d/c0e6bdb81a87f6bd56a663a330c271af7670490c80d8d635d9fa21ad1adf/msgspec-0.22.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
    ),
    WheelPin(
        name="micropip",
        version="0.11.1",
        filename="micropip-0.11.1-py3-none-any.whl",
        sha256="768de165adb8e66906039d8fec4127a57f522dfdf8e6fbff877a4616941ecfd3",
        url="https://files.pythonhosted.org/packages/17/54/d737f98fe5da2fd3375de34e9231c56550eefdd33ae9b671a25070792430/micropip-0.11.1-py3-none-any.whl",
    ),
)
"""The wheels every runtime holds besides ours, for the pinned Pyodide (cp314,
``pyemscripten_2026_0_wasm32``)."""


def wheel_pin(name: str) -> WheelPin | None:
    """The pin of project ``name`` (case and ``-``/``_`` insensitive), or ``None``."""
    key = name.lower().replace("_", "-")
    return next((p for p in RUNTIME_WHEEL_PINS if p.name == key), None)


def npm_pin() -> NpmPin:
    """The pinned npm ``pyodide`` package (read from ``pyodide_host/npm/package-lock.json``,
    which the amphikernel wheel ships).

    Raises:
        OSError, KeyError, ValueError: the lock file is missing or unreadable.
    """
    version, integrity = pyodide_pin()
    return NpmPin(name="pyodide", version=version, integrity=integrity)
