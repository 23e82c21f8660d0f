"""Where a site's Pyodide runtime comes from (:func:`locate_runtime`): the npm ``pyodide``
tarball and the wheels it loads (msgspec for Pyodide's wasm32 platform, micropip), each pinned
by hash (:mod:`pyodide_host.build.pins`), plus our own Pyodide wheel.

For each pinned file, in this order:

1. a local folder (``--pyodide-dir DIR`` / ``$AMPHI_PYODIDE_DIR``): the file as downloaded
   (``pyodide-<version>.tgz``, the ``.whl`` files), or for the runtime an unpacked npm package
   (``pyodide.mjs``, ``pyodide-lock.json``... in ``DIR`` or ``DIR/package``);
2. the user cache (:func:`pyodide_host.export.fetch.cache_dir`), checked against its hash on
   every use: a damaged entry is removed and fetched again;
3. a download from the npm registry or PyPI (verified before it enters the cache).

What cannot be had by any of these ends the export with one line naming the files to
download and the option to pass.  The tarball is unpacked once into ``<cache>/pyodide/<version>/``
(its files' hashes are recorded and checked on every use).

Our wheel (``lifecycle`` + ``pyodide_host`` with bytecode compiled in Pyodide) is the one
shipped in the amphikernel wheel (``pyodide_host/prebuilt/``); in a source checkout whose
sources changed since it was built, it is rebuilt with Node (:mod:`pyodide_host.build`).

CPython only; imports the standard library, :mod:`pyodide_host.build` and the sibling
modules.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyodide_host.build.common import REPO, BuildError, Layout, default_layout
from pyodide_host.build.dist import RUNTIME_FILES
from pyodide_host.build.pins import RUNTIME_WHEEL_PINS, NpmPin, WheelPin, npm_pin
from pyodide_host.build.prebuilt import check_prebuilt, prebuilt_wheel, project_version
from pyodide_host.build.runtime import RuntimeInfo, runtime_info
from pyodide_host.export.common import ExportError
from pyodide_host.export.fetch import (
    DownloadError,
    Expected,
    OnBytes,
    cache_dir,
    download,
    file_matches,
    index_file_url,
    npm_registry,
    pypi_index,
)

__all__ = ["ENV_PYODIDE_DIR", "Runtime", "cache_layout", "locate_runtime", "our_version", "our_wheel"]

ENV_PYODIDE_DIR = "AMPHI_PYODIDE_DIR"
REQUIRED = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
"""Files of the npm package Pyodide cannot start (or we cannot build a lock) without."""
UNPACKED = (*RUNTIME_FILES, "pyodide-lock.json")
MANIFEST = ".amphi-files.json"

Notice = Callable[[str], None]
"""``notice(message)``: something the user may want to know (a damaged cache entry)."""


@dataclass(frozen=True)
class Runtime:
    """A runtime ready to copy into a site.

    Attributes:
        package: folder with the npm package's runtime files and its ``pyodide-lock.json``.
        info: its interpreter and platform.
        wheels: msgspec, micropip and our wheel (verified files).
    """

    package: Path
    info: RuntimeInfo
    wheels: tuple[Path, ...]


def cache_layout() -> Layout:
    """The build :class:`~pyodide_host.build.Layout` rooted at the user cache (where the
    extra wheels of a site are resolved and precompiled)."""
    return Layout(cache_dir())


def _is_checkout() -> bool:
    return (REPO / "pyproject.toml").is_file() and (REPO / "pyodide_host" / "npm" / "package.json").is_file()


def our_version() -> str:
    """amphikernel's version: ``pyproject.toml``'s in a source tree, else the installed one."""
    version = project_version(REPO)
    if version is not None:
        return version
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("amphikernel")
    except PackageNotFoundError:
        return "0+unknown"


def our_wheel(package: Path) -> Path:
    """Our Pyodide wheel: the prebuilt one when it matches (installed: intact; source
    checkout: built from the current sources), else (checkout with Node) a fresh build.

    Raises:
        ExportError: no usable prebuilt wheel and no way to build one (one line).
    """
    wheel, manifest = prebuilt_wheel(REPO)
    if not _is_checkout():
        if wheel is not None and file_matches(wheel, Expected("sha256", str(manifest.get("sha256", "")))):
            return wheel
        raise ExportError("this amphikernel installation lacks its Pyodide wheel (pyodide_host/prebuilt/): reinstall amphikernel")
    problem = check_prebuilt(our_version(), REPO)
    if problem is None and wheel is not None:
        return wheel
    if shutil.which("node") is None:
        raise ExportError(problem or "the prebuilt Pyodide wheel is unusable")
    from pyodide_host.build.our_wheel import build_our_wheel

    try:
        return build_our_wheel(default_layout(), package, quiet=True)
    except BuildError as exc:
        raise ExportError(str(exc)) from None


def _local_runtime(folder: Path, pin: NpmPin) -> Path | None:
    """An unpacked runtime in ``folder`` (or ``folder/package``) of the pinned version."""
    for candidate in (folder, folder / "package"):
        if not (candidate / "pyodide.mjs").is_file():
            continue
        missing = [n for n in REQUIRED if not (candidate / n).is_file()]
        if missing:
            raise ExportError(f"the Pyodide runtime in {candidate} lacks {', '.join(missing)}")
        try:
            version = json.loads((candidate / "package.json").read_text(encoding="utf-8")).get("version")
        except (OSError, ValueError):
            version = None
        if version is not None and version != pin.version:
            raise ExportError(f"{candidate} holds Pyodide {version}; exports need {pin.version} ({pin.url()})")
        return candidate
    return None


def _file_hashes(folder: Path, names: list[str]) -> dict[str, str]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}


def _intact(target: Path, pin: NpmPin) -> bool:
    """Whether ``target`` holds the files unpacked from the pinned tarball, unchanged."""
    try:
        recorded = json.loads((target / MANIFEST).read_text())
        return bool(recorded["integrity"] == pin.integrity and _file_hashes(target, list(recorded["files"])) == recorded["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _unpacked(tarball: Path, cache: Path, pin: NpmPin) -> Path:
    """The runtime files of the (verified) ``tarball``, unpacked once into the cache (again
    when a file there changed)."""
    target = cache / "pyodide" / pin.version
    if _intact(target, pin):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{pin.version}.", dir=target.parent))
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for member in tar.getmembers():
                name = member.name.removeprefix("package/")
                if member.isfile() and name in UNPACKED and member.name == f"package/{name}":
                    source = tar.extractfile(member)
                    if source is not None:
                        (tmp / name).write_bytes(source.read())
        missing = [n for n in REQUIRED if not (tmp / n).is_file()]
        if missing:
            raise ExportError(f"{tarball} lacks {', '.join('package/' + n for n in missing)}")
        names = sorted(p.name for p in tmp.iterdir())
        (tmp / MANIFEST).write_text(json.dumps({"integrity": pin.integrity, "files": _file_hashes(tmp, names)}))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except (OSError, tarfile.TarError) as exc:
        if not _intact(target, pin):  # another export may have unpacked it meanwhile
            raise ExportError(f"cannot unpack {tarball} into {target}: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@dataclass
class _Fetcher:
    """Gets pinned files from the local folder, the cache or the network, recording what
    could not be had."""

    cache: Path
    local: Path | None
    on_bytes: OnBytes | None
    notice: Notice | None
    failures: list[str]
    missing: list[str]

    def get(self, filename: str, expected: Expected, url: Callable[[], str], canonical: str) -> Path | None:
        if self.local is not None and (self.local / filename).is_file():
            if not file_matches(self.local / filename, expected):
                raise ExportError(f"{self.local / filename} does not match its pinned {expected.algorithm} (download it again: {canonical})")
            return self.local / filename
        cached = self.cache / "downloads" / filename
        if cached.exists():
            if file_matches(cached, expected):
                return cached
            cached.unlink()
            if self.notice is not None:
                self.notice(f"the cached {filename} is damaged (its {expected.algorithm} does not match); downloading it again")
        try:
            return download(url(), cached, expected, on_bytes=self.on_bytes)
        except DownloadError as exc:
            self.failures.append(str(exc))
            self.missing.append(canonical)
            return None


def _wheel_url(pin: WheelPin) -> str:
    index = pypi_index()
    return pin.url if index is None else index_file_url(index, pin.name, pin.filename)


def locate_runtime(pyodide_dir: Path | str | None = None, *, on_bytes: OnBytes | None = None, notice: Notice | None = None) -> Runtime:
    """Find, fetch or unpack everything a site's runtime is made of (see the module doc).

    Args:
        pyodide_dir: a local folder to take the runtime and wheels from first (default
            ``$AMPHI_PYODIDE_DIR``, if set).
        on_bytes: download progress callback (see :data:`pyodide_host.export.fetch.OnBytes`).
        notice: called with a one-line message when a damaged cache entry is fetched again.

    Returns:
        The :class:`Runtime`.

    Raises:
        ExportError: a file could not be had (one line naming every file to download and the
            ``--pyodide-dir`` option), a local file does not match its pin, or the runtime is
            unusable.
    """
    pin = npm_pin()
    cache = cache_dir()
    chosen = pyodide_dir or os.environ.get(ENV_PYODIDE_DIR) or None
    local = Path(chosen).expanduser() if chosen else None
    if local is not None and not local.is_dir():
        raise ExportError(f"--pyodide-dir {local}: no such directory")
    fetcher = _Fetcher(cache, local, on_bytes, notice, failures=[], missing=[])
    package = _local_runtime(local, pin) if local is not None else None
    tarball = None
    if package is None:
        tarball = fetcher.get(pin.tarball, Expected("sha512", pin.integrity), lambda: pin.url(npm_registry()), pin.url())
    wheels = []
    for wheel_pin in RUNTIME_WHEEL_PINS:
        path = fetcher.get(wheel_pin.filename, Expected("sha256", wheel_pin.sha256), lambda p=wheel_pin: _wheel_url(p), wheel_pin.url)
        if path is not None:
            wheels.append(path)
    if fetcher.missing:
        where = f"neither the cache {cache} nor {local} holds it" if local is not None else f"the cache {cache} does not hold it"
        raise ExportError(
            f"cannot download what an export needs ({fetcher.failures[0]}), and {where}: "
            f"download {' '.join(fetcher.missing)} into a folder DIR and pass --pyodide-dir DIR "
            f"(or set {ENV_PYODIDE_DIR}=DIR)"
        )
    if package is None:
        assert tarball is not None
        package = _unpacked(tarball, cache, pin)
    try:
        info = runtime_info(package)
    except BuildError as exc:
        raise ExportError(str(exc)) from None
    return Runtime(package=package, info=info, wheels=(*wheels, our_wheel(package)))
