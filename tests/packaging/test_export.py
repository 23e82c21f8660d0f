"""``amphi export html-wasm`` from the installed wheel: the site loads in Chromium from the
pre-filled cache with no registry reachable; a damaged cache entry is fetched again; no
network and no cache is one line; ``--pyodide-dir`` works offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from pyodide_host.build.pins import RUNTIME_WHEEL_PINS, npm_pin
from tests.browser.conftest import StaticServer
from tests.browser.test_static_site import app_cell, open_site, wait_idle
from tests.packaging.conftest import PYTHONS, REPO, UNREACHABLE, Venv, offline_env, run, user_env

pytestmark = pytest.mark.timeout(900)  # the first test builds the wheel, the venvs and the cache

DEMO = REPO / "examples" / "browser_demo.py"


def _export(venv: Venv, out: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = run([venv.amphi, "export", "html-wasm", str(DEMO), "-o", str(out), *args], cwd=out.parent, env=env)
    return proc.returncode, proc.stderr


def test_the_exported_site_loads_in_chromium_and_shows_its_outputs(
    venv: Venv, filled_cache: Path, workdir: Path, static_server, open_page
) -> None:
    site = workdir / "site"
    code, stderr = _export(venv, site, offline_env(filled_cache))  # the cache only: no registry reachable
    assert code == 0, stderr
    assert stderr.splitlines() == [f"wrote {site} (open it through a web server, e.g. `python -m http.server -d {site}`)"]
    server: StaticServer = static_server(site, isolation_headers=True)
    page, outside = open_site(open_page, server)
    wait_idle(page)
    expect(app_cell(page, "slider").locator("amphi-ui input[type=range]")).to_have_value("4")
    expect(app_cell(page, "squares").locator(".output")).to_have_text("[1, 4, 9, 16]")
    assert outside == []
    assert page.js_errors == []  # type: ignore[attr-defined]


def _registry(root: Path, cache: Path) -> None:
    """Lay out ``root`` as an npm registry and a PyPI simple index serving the pinned files
    (copied from a good cache)."""
    pin = npm_pin()
    (root / pin.name / "-").mkdir(parents=True)
    shutil.copyfile(cache / "downloads" / pin.tarball, root / pin.name / "-" / pin.tarball)
    (root / "files").mkdir()
    for wheel in RUNTIME_WHEEL_PINS:
        shutil.copyfile(cache / "downloads" / wheel.filename, root / "files" / wheel.filename)
        page = root / "simple" / wheel.name
        page.mkdir(parents=True)
        (page / "index.html").write_text(f'<!doctype html><a href="../../files/{wheel.filename}#sha256={wheel.sha256}">{wheel.filename}</a>\n')


def test_a_damaged_cache_entry_is_fetched_again(filled_cache: Path, venvs, workdir: Path, static_server) -> None:
    venv = venvs(PYTHONS[-1])
    cache = workdir / "cache"
    shutil.copytree(filled_cache, cache)
    registry = workdir / "registry"
    _registry(registry, filled_cache)
    server: StaticServer = static_server(registry)
    pin = npm_pin()
    tarball = cache / "downloads" / pin.tarball
    tarball.write_bytes(tarball.read_bytes()[: tarball.stat().st_size // 2])  # truncated
    wheel = cache / "downloads" / RUNTIME_WHEEL_PINS[0].filename
    data = bytearray(wheel.read_bytes())
    data[100] ^= 0xFF  # one byte changed, same size
    wheel.write_bytes(bytes(data))
    unpacked = cache / "pyodide" / pin.version / "pyodide.asm.wasm"
    unpacked.write_bytes(b"\0asm not really")  # the unpacked runtime damaged too
    env = user_env(AMPHI_CACHE_DIR=str(cache), AMPHI_NPM_REGISTRY=server.url, AMPHI_PYPI_URL=server.url + "simple")
    code, stderr = _export(venv, workdir / "site", env)
    assert code == 0, stderr
    assert f"amphi: note: the cached {pin.tarball} is damaged (its sha512 does not match); downloading it again" in stderr
    assert f"amphi: note: the cached {wheel.name} is damaged (its sha256 does not match); downloading it again" in stderr
    fetched = [p for p in server.requests if p.endswith((".tgz", ".whl"))]
    assert sorted(fetched) == sorted([f"/{pin.name}/-/{pin.tarball}", f"/files/{wheel.name}"])  # micropip was intact
    for name in (pin.tarball, wheel.name):
        assert (cache / "downloads" / name).read_bytes() == (filled_cache / "downloads" / name).read_bytes()
    good = (filled_cache / "pyodide" / pin.version / "pyodide.asm.wasm").read_bytes()
    assert unpacked.read_bytes() == good
    assert (workdir / "site" / "pyodide" / "pyodide.asm.wasm").read_bytes() == good


def test_a_registry_serving_another_file_is_refused(filled_cache: Path, venvs, workdir: Path, static_server) -> None:
    venv = venvs(PYTHONS[-1])
    registry = workdir / "registry"
    _registry(registry, filled_cache)
    pin = npm_pin()
    served = registry / pin.name / "-" / pin.tarball
    served.write_bytes(served.read_bytes()[:-10])
    server: StaticServer = static_server(registry)
    cache = workdir / "cache"
    env = user_env(AMPHI_CACHE_DIR=str(cache), AMPHI_NPM_REGISTRY=server.url, AMPHI_PYPI_URL=server.url + "simple")
    code, stderr = _export(venv, workdir / "site", env)
    assert code == 1
    (line,) = stderr.splitlines()
    assert "not the pinned sha512" in line and pin.url() in line
    assert not (cache / "downloads" / pin.tarball).exists()  # nothing unverified enters the cache
    assert sorted(p.name for p in (cache / "downloads").iterdir()) == sorted(w.filename for w in RUNTIME_WHEEL_PINS)


def test_no_network_and_no_cache_is_one_line_naming_the_files_and_the_option(venvs, workdir: Path) -> None:
    venv = venvs(PYTHONS[0])
    code, stderr = _export(venv, workdir / "site", offline_env(workdir / "empty-cache"))
    assert code == 1
    (line,) = stderr.splitlines()
    assert line.startswith("amphi: error: cannot download what an export needs (")
    assert f"{UNREACHABLE}/" in line and "Connection refused" in line
    for url in (npm_pin().url(), *(w.url for w in RUNTIME_WHEEL_PINS)):
        assert url in line
    assert line.endswith("into a folder DIR and pass --pyodide-dir DIR (or set AMPHI_PYODIDE_DIR=DIR)")
    assert not (workdir / "site").exists()


def test_pyodide_dir_exports_offline_with_an_empty_cache(filled_cache: Path, venvs, workdir: Path) -> None:
    venv = venvs(PYTHONS[0])
    local = workdir / "downloaded"  # the three files, as the one-line error says
    shutil.copytree(filled_cache / "downloads", local)
    cache = workdir / "empty-cache"
    code, stderr = _export(venv, workdir / "site", offline_env(cache), "--pyodide-dir", str(local), "--quiet")
    assert code == 0, stderr
    assert stderr.count("\n") <= 1
    lock = json.loads((workdir / "site" / "pyodide" / "pyodide-lock.json").read_text())
    assert set(lock["packages"]) == {"amphikernel", "msgspec", "micropip"}
    assert not (cache / "downloads").exists()  # nothing was downloaded
