"""The user's path: amphikernel built into a wheel and an sdist from a clean copy of the tree,
installed alone (pip fetches only its declared dependencies) into fresh virtual environments
on CPython 3.10 (our minimum) and 3.13, and driven through that environment's ``amphi``.

* The clean copy holds the files git knows (tracked, or new and not ignored: untracked junk
  such as ``build/``, ``__pycache__`` or ``*.egg-info`` cannot leak in) plus the two build
  outputs that are package data: the web bundle (``subprocess_host/static/app/``, built by
  ``make setup``) and our Pyodide wheel (``pyodide_host/prebuilt/``, refreshed here by
  ``python -m pyodide_host.build --prebuilt``, a no-op when current).  ``python -m build``
  makes the sdist, then the wheel from the sdist; once per session.
* Every command runs with its working directory outside the repository, ``PYTHONPATH`` and
  every other ``PYTHON*`` variable unset, and no repository folder on ``PATH``, so nothing of
  the source tree can be imported.
* The Pyodide download path runs once per session (:func:`filled_cache`: a real export into an
  empty ``AMPHI_CACHE_DIR``, from the real npm registry and PyPI); later exports use that
  cache with the registries pointed at an unreachable address (``http://127.0.0.1:9``), which
  is also how "no network" is simulated.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.conftest import open_page, static_server  # noqa: F401  (fixtures reused here)
from tests.chromium import chromium_browser

REPO = Path(__file__).resolve().parents[2]
PYTHONS = ("3.10.13", "3.13.0")
"""pyenv versions of the venvs: our minimum and the newest we support."""
UNREACHABLE = "http://127.0.0.1:9"
"""A registry address nothing listens on (no network, without touching the downloader)."""
BUILD_OUTPUTS = ("subprocess_host/static/app", "pyodide_host/prebuilt")
BUILD_TIMEOUT = 600
INSTALL_TIMEOUT = 600
COMMAND_TIMEOUT = 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.packaging)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "packaging: the built wheel installed in clean venvs")


# ------------------------------------------------------------------------------ environment


def user_env(**settings: str) -> dict[str, str]:
    """This process's environment as a user's shell would have it: no ``PYTHON*`` variables,
    no virtualenv, no repository folder on ``PATH``, no ``AMPHI_*`` settings but
    ``settings``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "AMPHI_")) and k not in ("VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")
    }
    parts = [p for p in env.get("PATH", "").split(os.pathsep) if p and not _inside_repo(Path(p))]
    env["PATH"] = os.pathsep.join(parts)
    env.update(settings)
    return env


def _inside_repo(path: Path) -> bool:
    try:
        return path.resolve().is_relative_to(REPO)
    except OSError:
        return False


def run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (text output captured); never raises on a non-zero exit."""
    assert not _inside_repo(cwd), f"{cwd} is inside the repository"
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def pyenv_python(version: str) -> Path:
    """``$(pyenv prefix VERSION)/bin/python``; fails the test when it is not installed."""
    try:
        prefix = subprocess.run(["pyenv", "prefix", version], capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"CPython {version} is not installed with pyenv (`pyenv install {version}`): {exc}")
    python = Path(prefix) / "bin" / "python"
    if not python.is_file():
        pytest.fail(f"no interpreter at {python}")
    return python


# ------------------------------------------------------------------------------ build


def clean_copy(dest: Path) -> Path:
    """Copy the files git knows (tracked, or untracked and not ignored) and the package-data
    build outputs (:data:`BUILD_OUTPUTS`) into ``dest``; returns ``dest``."""
    bundle = REPO / "subprocess_host" / "static" / "app"
    if not (bundle / "index.html").is_file():
        pytest.fail(f"the web bundle is not built ({bundle}): run `make setup` (cd web && npm ci && npm run build)")
    refresh = subprocess.run(
        [sys.executable, "-m", "pyodide_host.build", "--prebuilt", "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False,
    )  # fmt: skip
    if refresh.returncode != 0:
        pytest.fail(f"building the prebuilt Pyodide wheel failed: {refresh.stderr.strip()}")
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    for raw in listing.stdout.split(b"\0"):
        name = raw.decode()
        source = REPO / name
        if not name or not source.is_file():  # deleted in the work tree
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    for output in BUILD_OUTPUTS:
        target = dest / output
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(REPO / output, target, ignore=shutil.ignore_patterns(".gitignore"))
    return dest


@dataclass(frozen=True)
class Dists:
    """The built distributions and the clean copy they were built from."""

    wheel: Path
    sdist: Path
    source: Path


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """``python -m build`` of a clean copy: the sdist, then the wheel built from it."""
    base = tmp_path_factory.mktemp("dists")
    source = clean_copy(base / "src")
    out = base / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        cwd=base, env=user_env(), capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"python -m build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    (wheel,) = out.glob("amphikernel-*.whl")
    (sdist,) = out.glob("amphikernel-*.tar.gz")
    return Dists(wheel=wheel, sdist=sdist, source=source)


# ------------------------------------------------------------------------------ venvs


@dataclass(frozen=True)
class Venv:
    """A fresh virtual environment with amphikernel installed from a distribution."""

    python_version: str
    root: Path

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    @property
    def amphi(self) -> str:
        return str(self.root / "bin" / "amphi")


def make_venv(version: str, root: Path, requirement: Path, env: dict[str, str] | None = None) -> Venv:
    """``python -m venv ROOT`` on pyenv's ``version``, then ``pip install REQUIREMENT`` (with
    the declared dependencies only; pip's cache is used), in ``env`` (default :func:`user_env`)."""
    python = pyenv_python(version)
    env = env or user_env()
    created = run([str(python), "-m", "venv", str(root)], cwd=root.parent, env=env, timeout=120)
    assert created.returncode == 0, created.stderr
    venv = Venv(version, root)
    installed = run([venv.python, "-m", "pip", "install", "-q", str(requirement)], cwd=root.parent, env=env, timeout=INSTALL_TIMEOUT)
    if installed.returncode != 0:
        pytest.fail(f"pip install {requirement.name} failed on {version}:\n{installed.stderr[-3000:]}")
    return venv


@pytest.fixture(scope="session")
def venvs(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Venv]:
    """``venvs(version)``: the venv of that version with the wheel installed (made once)."""
    made: dict[str, Venv] = {}

    def get(version: str) -> Venv:
        if version not in made:
            made[version] = make_venv(version, tmp_path_factory.mktemp(f"venv-{version}") / "venv", dists.wheel)
        return made[version]

    return get


@pytest.fixture(scope="session", params=PYTHONS, ids=[f"py{v.rsplit('.', 1)[0]}" for v in PYTHONS])
def venv(request: pytest.FixtureRequest, venvs: Callable[[str], Venv]) -> Venv:
    """Each of :data:`PYTHONS` in turn."""
    return venvs(request.param)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working directory outside the repository."""
    assert not _inside_repo(tmp_path)
    return tmp_path


# ------------------------------------------------------------------------------ Pyodide cache


@pytest.fixture(scope="session")
def filled_cache(venvs: Callable[[str], Venv], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ``AMPHI_CACHE_DIR`` filled by a real export (npm registry + PyPI) from the newest
    venv: the download path, once per session."""
    base = tmp_path_factory.mktemp("filled-cache")
    cache = base / "cache"
    venv = venvs(PYTHONS[-1])
    proc = run(
        [venv.amphi, "export", "html-wasm", str(REPO / "examples" / "browser_demo.py"), "-o", str(base / "site")],
        cwd=base, env=user_env(AMPHI_CACHE_DIR=str(cache)),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    downloads = sorted(p.name for p in (cache / "downloads").iterdir())
    assert downloads == [
        "micropip-0.11.1-py3-none-any.whl",
        "msgspec-0.22.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        "pyodide-314.0.7.tgz",
    ], downloads
    return cache


def offline_env(cache: Path, **settings: str) -> dict[str, str]:
    """:func:`user_env` with ``AMPHI_CACHE_DIR=cache`` and both registries unreachable."""
    return user_env(AMPHI_CACHE_DIR=str(cache), AMPHI_NPM_REGISTRY=UNREACHABLE, AMPHI_PYPI_URL=f"{UNREACHABLE}/simple", **settings)


# ------------------------------------------------------------------------------ browser


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium for one module (playwright's sync loop must not outlive it: other modules of
    this package run asyncio tests)."""
    with chromium_browser() as chromium:
        yield chromium
