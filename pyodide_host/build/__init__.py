"""Assemble the Pyodide *dist directory*: the npm ``pyodide`` runtime, the wheels it loads, a
``pyodide-lock.json`` listing exactly those wheels.

::

    python -m pyodide_host.build            # build/pyodide/dist        (runtime)
    python -m pyodide_host.build --tests    # build/pyodide/dist-tests  (runtime + pytest & co)
    python -m pyodide_host.build --all      # both

Steps, each cached (re-running does nothing when everything is up to date):

1. ``npm ci`` of ``pyodide_host/npm/`` (``pyodide@314.0.7``, lock committed) into
   ``build/pyodide/npm/`` — nothing is fetched from a CDN, only the npm registry.
2. ``pip download`` of the wheels from PyPI for Pyodide's platform
   (``cp314`` / ``pyemscripten_2026_0_wasm32``; pure wheels match too) into
   ``build/pyodide/wheels/``.  Versions come from ``requirements-dev.txt`` (micropip is
   pinned here), so CPython and Pyodide test with the same releases.
3. Our own pure wheel, ``amphikernel-<version>-py3-none-any.whl``: the packages that run in
   Pyodide (``lifecycle`` and ``pyodide_host`` without this build tool), depending on msgspec
   only.  Written directly (no build backend), so it is byte-for-byte reproducible, then given
   bytecode compiled *inside Pyodide* under Node (``pyodide_host/node/compile_wheel.mjs``):
   Pyodide never writes bytecode, so without it every start compiles every module.
4. The dist directory: the runtime files of the npm package, the wheels, and a
   ``pyodide-lock.json`` whose ``packages`` are exactly the wheels present (a package the lock
   names but the directory lacks would make Pyodide fall back to the CDN or 404).  Wheels are
   checked against the runtime's interpreter and platform ourselves: pyodide-lock's own check
   rejects the ``pyemscripten_<abi>_<arch>`` tag.

Errors are reported as one line (``pyodide_host.build: error: ...``) with exit status 1.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pyodide_host.build.compile_in_pyodide import write_wheel

__all__ = [
    "RUNTIME_FILES",
    "RUNTIME_WHEELS",
    "TEST_WHEELS",
    "BuildError",
    "Layout",
    "ensure_dist",
    "main",
]

REPO = Path(__file__).resolve().parents[2]
"""The repository root (this file is ``pyodide_host/build/__init__.py``)."""

BUILD_VERSION = 3
"""Bumped when the dist layout or the lock written here changes (invalidates every stamp)."""

RUNTIME_FILES = (
    "pyodide.mjs",
    "pyodide.mjs.map",
    "pyodide.js",
    "pyodide.js.map",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide.d.ts",
    "ffi.d.ts",
    "package.json",
)
"""Files of the npm ``pyodide`` package copied into the dist directory (``pyodide-lock.json``
is rewritten, not copied)."""

RUNTIME_WHEELS = ("msgspec", "micropip")
"""Wheels every dist holds (besides ours)."""

TEST_WHEELS = (
    "pytest",
    "iniconfig",
    "packaging",
    "pluggy",
    "Pygments",
    "pytest-asyncio",
    "hypothesis",
    "sortedcontainers",
    "jedi",
    "parso",
)
"""Wheels added by ``--tests``: pytest and what the lifecycle tests need in Pyodide."""

PINNED_HERE = {"micropip": "0.11.1"}
"""Versions not in ``requirements-dev.txt``."""

OUR_PACKAGES = ("lifecycle", "pyodide_host")
OUR_EXCLUDED = ("pyodide_host/build/", "pyodide_host/export.py", "pyodide_host/islands/")
OUR_NAME = "amphikernel"


class BuildError(RuntimeError):
    """A build step failed; the message is one line saying what and why."""


@dataclass(frozen=True)
class Layout:
    """Where the build puts things (all under ``root``, default ``build/pyodide``)."""

    root: Path

    @property
    def npm(self) -> Path:
        return self.root / "npm"

    @property
    def pyodide_package(self) -> Path:
        return self.npm / "node_modules" / "pyodide"

    @property
    def wheels(self) -> Path:
        return self.root / "wheels"

    @property
    def ours(self) -> Path:
        return self.root / "ours"

    def dist(self, tests: bool) -> Path:
        return self.root / ("dist-tests" if tests else "dist")


def default_layout() -> Layout:
    return Layout(REPO / "build" / "pyodide")


def _log(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"pyodide_host.build: {message}", file=sys.stderr, flush=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ------------------------------------------------------------------------------ 1. npm


def ensure_npm(layout: Layout, *, quiet: bool = False) -> Path:
    """``npm ci`` the committed package into ``layout.npm`` (cached by the lock's hash).

    Returns:
        The installed ``node_modules/pyodide`` directory.
    """
    source = REPO / "pyodide_host" / "npm"
    lock = source / "package-lock.json"
    if not lock.is_file():
        raise BuildError(f"{lock} is missing (it pins the pyodide npm package)")
    stamp_value = _sha256(source / "package.json") + _sha256(lock)
    stamp = layout.npm / ".amphi-stamp"
    package = layout.pyodide_package
    if (
        stamp.is_file()
        and stamp.read_text() == stamp_value
        and all((package / f).is_file() for f in ("pyodide.mjs", "pyodide.asm.wasm"))
    ):
        return package
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm not found on PATH (needed to install the pyodide npm package)")
    layout.npm.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(source / name, layout.npm / name)
    _log("npm ci (pyodide runtime)", quiet)
    proc = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=layout.npm,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(f"npm ci failed in {layout.npm}: {_last_line(proc.stderr or proc.stdout)}")
    if not (package / "pyodide.mjs").is_file():
        raise BuildError(f"npm ci did not install pyodide into {package}")
    stamp.write_text(stamp_value)
    return package


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "ERR" in ln.upper()]
    return (errors or lines or ["(no output)"])[-1]


@dataclass(frozen=True)
class RuntimeInfo:
    """The runtime's interpreter and platform, from its ``pyodide-lock.json``."""

    python: str  # "3.14.2"
    abi_version: str  # "2026_0"
    arch: str  # "wasm32"
    platform: str  # "emscripten_5_0_3"
    lock_info: dict

    @property
    def cp_tag(self) -> str:
        major, minor = self.python.split(".")[:2]
        return f"cp{major}{minor}"

    @property
    def python_version(self) -> str:
        return ".".join(self.python.split(".")[:2])

    @property
    def wheel_platforms(self) -> tuple[str, ...]:
        """Platform tags a binary wheel for this runtime may carry."""
        return (f"pyemscripten_{self.abi_version}_{self.arch}", f"{self.platform}_{self.arch}")


def runtime_info(package: Path) -> RuntimeInfo:
    try:
        info = json.loads((package / "pyodide-lock.json").read_text())["info"]
        return RuntimeInfo(
            python=info["python"],
            abi_version=info["abi_version"],
            arch=info["arch"],
            platform=info["platform"],
            lock_info=info,
        )
    except (OSError, KeyError, ValueError) as exc:
        raise BuildError(f"cannot read the runtime's pyodide-lock.json in {package}: {exc}") from None


# --------------------------------------------------------------------------- 2. wheels


def pinned_versions(names: Iterable[str]) -> dict[str, str]:
    """``name -> version`` for each name, from ``requirements-dev.txt`` (or :data:`PINNED_HERE`).

    Raises:
        BuildError: a name is pinned nowhere.
    """
    pins: dict[str, str] = {_normalize(k): v for k, v in PINNED_HERE.items()}
    requirements = REPO / "requirements-dev.txt"
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins.setdefault(_normalize(name), version.strip())
    out = {}
    for name in names:
        version = pins.get(_normalize(name))
        if version is None:
            raise BuildError(f"no pinned version for {name!r} in {requirements.name}")
        out[name] = version
    return out


def _wheel_parts(filename: str) -> tuple[str, str, list[tuple[str, str, str]]]:
    """``(normalized name, version, [(interpreter, abi, platform), ...])`` of a wheel file name."""
    stem = filename[: -len(".whl")]
    parts = stem.split("-")
    if len(parts) not in (5, 6):
        raise BuildError(f"not a wheel file name: {filename}")
    name, version = parts[0], parts[1]
    pys, abis, plats = parts[-3], parts[-2], parts[-1]
    tags = [(p, a, pl) for p in pys.split(".") for a in abis.split(".") for pl in plats.split(".")]
    return _normalize(name), version, tags


def check_compatible(filename: str, runtime: RuntimeInfo) -> None:
    """Accept pure wheels and binary wheels built for this runtime's interpreter and platform
    (``pyemscripten_<abi>_<arch>`` or ``<platform>_<arch>``).

    Raises:
        BuildError: the wheel cannot load in this runtime.
    """
    _, _, tags = _wheel_parts(filename)
    cp = runtime.cp_tag
    pure_interpreters = {"py3", f"py{cp[2:]}", cp}
    for interpreter, abi, platform in tags:
        if platform == "any" and abi == "none" and interpreter in pure_interpreters:
            return
        if platform in runtime.wheel_platforms and interpreter == cp and abi in (cp, "abi3", "none"):
            return
    raise BuildError(
        f"{filename} does not fit the Pyodide runtime (Python {runtime.python_version}, "
        f"platform {runtime.wheel_platforms[0]})"
    )


def _find_wheel(directory: Path, name: str, version: str) -> Path | None:
    wanted = _normalize(name)
    for path in sorted(directory.glob("*.whl")):
        try:
            wname, wversion, _ = _wheel_parts(path.name)
        except BuildError:
            continue
        if wname == wanted and wversion == version:
            return path
    return None


def ensure_wheels(layout: Layout, names: Iterable[str], runtime: RuntimeInfo, *, quiet: bool = False) -> list[Path]:
    """Download (once) the pinned wheels for ``names``; returns their paths."""
    pins = pinned_versions(names)
    layout.wheels.mkdir(parents=True, exist_ok=True)
    missing = {n: v for n, v in pins.items() if _find_wheel(layout.wheels, n, v) is None}
    if missing:
        _log("pip download " + " ".join(f"{n}=={v}" for n, v in missing.items()), quiet)
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--no-input", "-q",
            "--python-version", runtime.python_version, "--implementation", "cp",
            "--abi", runtime.cp_tag, "--abi", "abi3", "--abi", "none",
            "--platform", runtime.wheel_platforms[0], "--platform", "any",
            "-d", str(layout.wheels),
            *(f"{n}=={v}" for n, v in missing.items()),
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BuildError(f"pip download failed: {_last_line(proc.stderr or proc.stdout)}")
    paths = []
    for name, version in pins.items():
        path = _find_wheel(layout.wheels, name, version)
        if path is None:
            raise BuildError(f"pip download did not produce a wheel for {name}=={version}")
        check_compatible(path.name, runtime)
        paths.append(path)
    return paths


# ------------------------------------------------------------------------- 3. our wheel


def _project_version() -> str:
    text = (REPO / "pyproject.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise BuildError("no version in pyproject.toml")
    return match.group(1)


def our_sources() -> list[tuple[str, Path]]:
    """``(path inside the wheel, file)`` for every module of our wheel, sorted."""
    out = []
    for package in OUR_PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if "__pycache__" in rel or rel.startswith(OUR_EXCLUDED):
                continue
            out.append((rel, path))
    return out


def build_our_wheel(layout: Layout, package: Path, *, quiet: bool = False) -> Path:
    """Write ``amphikernel-<version>-py3-none-any.whl`` with bytecode compiled in Pyodide
    (cached: rewritten only when a source, the compile step or the runtime changes).
    Contains :data:`OUR_PACKAGES`; requires msgspec only."""
    version = _project_version()
    sources = our_sources()
    here = Path(__file__).resolve().parent
    compile_script = here / "compile_in_pyodide.py"
    compile_runner = here.parent / "node" / "compile_wheel.mjs"
    digest = hashlib.sha256(f"{BUILD_VERSION}:{version}".encode())
    for rel, path in sources:
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    for path in (compile_script, compile_runner, package / "pyodide-lock.json"):
        digest.update(path.read_bytes())
    key = digest.hexdigest()
    layout.ours.mkdir(parents=True, exist_ok=True)
    wheel = layout.ours / f"{OUR_NAME}-{version}-py3-none-any.whl"
    stamp = layout.ours / ".amphi-stamp"
    if wheel.is_file() and stamp.is_file() and stamp.read_text() == key:
        return wheel
    _log(f"writing {wheel.name} (bytecode compiled in Pyodide)", quiet)
    source_wheel = layout.ours / "source" / wheel.name
    source_wheel.parent.mkdir(exist_ok=True)
    _write_source_wheel(source_wheel, version, sources)
    node = shutil.which("node")
    if node is None:
        raise BuildError("node not found on PATH (needed to compile our wheel's bytecode in Pyodide)")
    tmp = wheel.with_suffix(".tmp")
    proc = subprocess.run(
        [node, str(compile_runner), "--pyodide", str(package), "--in", str(source_wheel),
         "--out", str(tmp), "--script", str(compile_script)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0 or not tmp.is_file():
        raise BuildError(f"compiling our wheel in Pyodide failed: {_last_line(proc.stderr or proc.stdout)}")
    os.replace(tmp, wheel)
    stamp.write_text(key)
    return wheel


def _write_source_wheel(wheel: Path, version: str, sources: list[tuple[str, Path]]) -> None:
    dist_info = f"{OUR_NAME}-{version}.dist-info"
    files: list[tuple[str, bytes]] = [(rel, path.read_bytes()) for rel, path in sources]
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {OUR_NAME}\n"
        f"Version: {version}\n"
        "Summary: amphikernel's lifecycle core and Pyodide host (the subset that runs in Pyodide)\n"
        "Requires-Python: >=3.10\n"
        "Requires-Dist: msgspec>=0.19\n"
    )
    wheel_meta = "Wheel-Version: 1.0\nGenerator: pyodide_host.build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files.append((f"{dist_info}/METADATA", metadata.encode()))
    files.append((f"{dist_info}/WHEEL", wheel_meta.encode()))
    files.append((f"{dist_info}/top_level.txt", "".join(p + "\n" for p in OUR_PACKAGES).encode()))
    tmp = wheel.with_suffix(".tmp")
    write_wheel(str(tmp), files, f"{dist_info}/RECORD")
    os.replace(tmp, wheel)


# ------------------------------------------------------------------------------ 4. dist


def _wheel_metadata(path: Path) -> tuple[str, list[str], list[str]]:
    """``(project name, top-level import names, Requires-Dist lines)`` of a wheel."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        meta_name = next((n for n in names if n.endswith(".dist-info/METADATA") and n.count("/") == 1), None)
        if meta_name is None:
            raise BuildError(f"{path.name} has no .dist-info/METADATA")
        meta = zf.read(meta_name).decode("utf-8", "replace")
        top_name = meta_name.replace("METADATA", "top_level.txt")
        imports: set[str] = set()
        for name in names:
            first, _, rest = name.partition("/")
            if first.endswith((".dist-info", ".data")):
                continue
            if rest == "__init__.py":
                imports.add(first)  # a package
            elif not rest and first.endswith(".py"):
                imports.add(first[:-3])  # a top-level module
            elif not rest and first.endswith(".so"):
                imports.add(first.split(".", 1)[0])  # a top-level extension module
        if not imports and top_name in names:
            imports = {ln.strip() for ln in zf.read(top_name).decode().splitlines() if ln.strip()}
    project = ""
    requires = []
    for line in meta.split("\n\n", 1)[0].splitlines():
        if line.startswith("Name:"):
            project = line.split(":", 1)[1].strip()
        elif line.startswith("Requires-Dist:"):
            requires.append(line.split(":", 1)[1].strip())
    imports.discard("_virtualenv")
    return project, sorted(i for i in imports if i.isidentifier() and not i.startswith("__")), requires


def _pyodide_environment(runtime: RuntimeInfo) -> dict[str, str]:
    return {
        "implementation_name": "cpython",
        "implementation_version": runtime.python,
        "os_name": "posix",
        "platform_machine": runtime.arch,
        "platform_release": "",
        "platform_system": "Emscripten",
        "platform_version": "",
        "python_full_version": runtime.python,
        "platform_python_implementation": "CPython",
        "python_version": runtime.python_version,
        "sys_platform": "emscripten",
        "extra": "",
    }


def _runtime_depends(requires: list[str], runtime: RuntimeInfo, wheel: str) -> list[str]:
    """Requirement names that apply in Pyodide (markers evaluated, extras dropped)."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pragma: no cover - packaging is pinned in requirements-dev.txt
        raise BuildError("the 'packaging' module is needed to read wheel requirements") from None
    env = _pyodide_environment(runtime)
    out = []
    for text in requires:
        try:
            req = Requirement(text)
        except Exception as exc:
            raise BuildError(f"{wheel}: unreadable requirement {text!r}: {exc}") from None
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        out.append(_normalize(req.name))
    return out


def lock_entry(path: Path, runtime: RuntimeInfo) -> tuple[str, dict]:
    """``(lock key, entry)`` for one wheel: the fields Pyodide's loader reads."""
    check_compatible(path.name, runtime)
    name, version, _ = _wheel_parts(path.name)
    project, imports, requires = _wheel_metadata(path)
    entry = {
        "name": project or name,
        "version": version,
        "file_name": path.name,
        "install_dir": "site",
        "sha256": _sha256(path),
        "package_type": "package",
        "imports": imports,
        "depends": _runtime_depends(requires, runtime, path.name),
        "unvendored_tests": False,
        "shared_library": False,
    }
    return name, entry


def _dist_stamp(package: Path, wheels: list[Path]) -> str:
    digest = hashlib.sha256(f"v{BUILD_VERSION}".encode())
    digest.update(_sha256(package / "pyodide-lock.json").encode())
    digest.update(_sha256(package / "package.json").encode())
    for wheel in sorted(wheels, key=lambda p: p.name):
        digest.update(wheel.name.encode() + _sha256(wheel).encode())
    return digest.hexdigest()


def assemble_dist(dist: Path, package: Path, wheels: list[Path], runtime: RuntimeInfo, *, quiet: bool = False) -> Path:
    """Write the dist directory (cached by a stamp over the runtime and every wheel)."""
    stamp_value = _dist_stamp(package, wheels)
    stamp = dist / ".amphi-stamp"
    if stamp.is_file() and stamp.read_text() == stamp_value and (dist / "pyodide-lock.json").is_file():
        return dist
    _log(f"assembling {dist}", quiet)
    entries = lock_entries(wheels, runtime)
    tmp = dist.with_name(dist.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    write_runtime_dir(tmp, package, wheels, runtime, entries)
    (tmp / ".amphi-stamp").write_text(stamp_value)
    if dist.exists():
        shutil.rmtree(dist)
    os.replace(tmp, dist)
    return dist


def lock_entries(wheels: list[Path], runtime: RuntimeInfo) -> dict[str, dict]:
    """The ``pyodide-lock.json`` entries of ``wheels``, by package name.

    Raises:
        BuildError: two wheels for one package, or a wheel depends on a package that none of
            ``wheels`` provides (Pyodide would fall back to its CDN for it).
    """
    entries: dict[str, dict] = {}
    for wheel in wheels:
        key, entry = lock_entry(wheel, runtime)
        if key in entries:
            raise BuildError(f"two wheels for {key}: {entries[key]['file_name']} and {wheel.name}")
        entries[key] = entry
    for entry in entries.values():
        missing = [d for d in entry["depends"] if d not in entries]
        if missing:
            raise BuildError(f"{entry['file_name']} needs {', '.join(missing)}, which no wheel provides")
    return entries


def write_runtime_dir(
    target: Path, package: Path, wheels: list[Path], runtime: RuntimeInfo, entries: dict[str, dict]
) -> None:
    """Fill the existing directory ``target`` with the runtime files of the npm ``package``,
    ``wheels`` and a ``pyodide-lock.json`` listing ``entries`` (from :func:`lock_entries`).

    Raises:
        BuildError: the npm package lacks one of the files Pyodide cannot start without.
    """
    for name in RUNTIME_FILES:
        source = package / name
        if source.is_file():
            _link_or_copy(source, target / name)
        elif name in ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip"):
            raise BuildError(f"the pyodide npm package lacks {name}")
    for wheel in wheels:
        _link_or_copy(wheel, target / wheel.name)
    lock = {"info": runtime.lock_info, "packages": {k: entries[k] for k in sorted(entries)}}
    (target / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


# ------------------------------------------------------------------------------- entry


def ensure_dist(tests: bool = False, *, layout: Layout | None = None, quiet: bool = False) -> Path:
    """Build (or find up to date) the dist directory and return it.

    Args:
        tests: add :data:`TEST_WHEELS` (``build/pyodide/dist-tests``).
        layout: where to build (default ``build/pyodide`` in the repository).
        quiet: no progress lines on stderr.

    Raises:
        BuildError: a step failed (one-line message).
    """
    layout = layout or default_layout()
    package = ensure_npm(layout, quiet=quiet)
    runtime = runtime_info(package)
    names = list(RUNTIME_WHEELS) + (list(TEST_WHEELS) if tests else [])
    wheels = ensure_wheels(layout, names, runtime, quiet=quiet)
    wheels.append(build_our_wheel(layout, package, quiet=quiet))
    return assemble_dist(layout.dist(tests), package, wheels, runtime, quiet=quiet)


def main(argv: list[str] | None = None) -> int:
    """``python -m pyodide_host.build [--tests | --all] [--root DIR] [--quiet]``: build, then
    print the dist path(s), one a line."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pyodide_host.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", action="store_true", help="also add pytest & co (build/pyodide/dist-tests)")
    parser.add_argument("--all", action="store_true", help="build both dist and dist-tests")
    parser.add_argument("--root", type=Path, default=None, help="build directory (default: build/pyodide)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    layout = Layout(args.root.resolve()) if args.root else None
    try:
        flavours = (False, True) if args.all else (args.tests,)
        dists = [ensure_dist(tests, layout=layout, quiet=args.quiet) for tests in flavours]
    except BuildError as exc:
        print(f"pyodide_host.build: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pyodide_host.build: interrupted", file=sys.stderr)
        return 130
    for dist in dists:
        print(dist)
    return 0
