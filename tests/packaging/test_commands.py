"""The installed ``amphi`` in each clean venv: ``--version``, ``execute`` on a corpus notebook,
``edit`` and ``run`` over real HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from lifecycle.notebook import Cell, Notebook, write_notebook
from pyodide_host.build.pins import npm_pin
from tests.conformance.conftest import DEFAULT_CORPUS
from tests.conformance.corpus import cell_items, code_cells, code_sources, compare, read_ipynb
from tests.packaging.conftest import Venv, run, user_env
from tests.subprocess_host.server.harness import (
    WsTab,
    console_text,
    cookie_header,
    of_type,
    results,
)

pytestmark = pytest.mark.timeout(900)  # the first test builds the wheel and the venvs

CORPUS_NOTEBOOK = "pytudes_cheryl.ipynb"


def _minor(venv: Venv) -> str:
    return venv.python_version.rsplit(".", 1)[0]


def test_version_and_nothing_comes_from_the_source_tree(venv: Venv, workdir: Path) -> None:
    proc = run([venv.amphi, "--version"], cwd=workdir, env=user_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"amphi 0.1.0 (exports use Pyodide {npm_pin().version})"
    where = run(
        [venv.python, "-c", "import sys, lifecycle, subprocess_host, pyodide_host\n"
         "print('%d.%d' % sys.version_info[:2])\n"
         "for m in (lifecycle, subprocess_host, pyodide_host): print(m.__file__)"],
        cwd=workdir, env=user_env(),
    )  # fmt: skip
    lines = where.stdout.split()
    assert lines[0] == _minor(venv)
    site = venv.root / "lib" / f"python{_minor(venv)}" / "site-packages"
    assert all(Path(line).is_relative_to(site) for line in lines[1:]), lines


def test_execute_runs_a_corpus_notebook_like_jupyter(venv: Venv, workdir: Path) -> None:
    source = DEFAULT_CORPUS / "notebooks" / CORPUS_NOTEBOOK
    reference = read_ipynb(DEFAULT_CORPUS / "reference" / _minor(venv) / CORPUS_NOTEBOOK)
    out = workdir / "out.ipynb"
    proc = run([venv.amphi, "execute", str(source), "-o", str(out), "--cwd", str(workdir)], cwd=workdir, env=user_env())
    assert proc.returncode == 0, proc.stderr
    assert "{'July 16'}" in proc.stdout  # Cheryl's birthday, printed as text
    actual = read_ipynb(out)
    comparison = compare(
        CORPUS_NOTEBOOK,
        code_sources(reference),
        [cell_items(c.get("outputs", [])) for c in code_cells(reference)],
        [cell_items(c.get("outputs", [])) for c in code_cells(actual)],
    )
    assert comparison.ok, comparison.report()
    assert comparison.matched == len(code_cells(reference))


async def _start(venv: Venv, mode: str, notebook: Path, workdir: Path) -> tuple[subprocess.Popen[str], str]:
    """``amphi MODE NOTEBOOK --no-browser --port 0``; returns the process and its URL."""
    log = (workdir / f"{mode}.log").open("w")
    process = subprocess.Popen(
        [venv.amphi, mode, str(notebook), "--no-browser", "--port", "0"],
        cwd=workdir, env=user_env(), stdout=subprocess.PIPE, stderr=log, text=True,
    )  # fmt: skip
    log.close()
    assert process.stdout is not None
    url = (await asyncio.to_thread(process.stdout.readline)).strip()
    if not url:
        process.wait(30)
        raise AssertionError(f"amphi {mode} printed no URL:\n{(workdir / f'{mode}.log').read_text()}")
    return process, url


def _stop(process: subprocess.Popen[str], workdir: Path, mode: str) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    log = (workdir / f"{mode}.log").read_text()
    assert "Traceback" not in log, log


async def _open_tab(url: str, http: httpx.AsyncClient) -> WsTab:
    base = url.split("?", 1)[0]
    async with httpx.AsyncClient() as stranger:  # no token, no cookie
        assert (await stranger.get(base)).status_code == 403
    page = await http.get(url)
    assert page.status_code == 200
    assert './app.js' in page.text  # the packaged web bundle, not the minimal page
    assert (await http.get(base + "app.js")).status_code == 200
    return await WsTab.open(base.replace("http://", "ws://", 1) + "ws", cookie_header(http))


async def test_edit_serves_the_page_and_runs_a_cell_in_the_venvs_kernel(venv: Venv, workdir: Path) -> None:
    notebook = workdir / "nb.py"  # created by amphi edit
    process, url = await _start(venv, "edit", notebook, workdir)
    try:
        async with httpx.AsyncClient() as http:
            tab = await _open_tab(url, http)
            cell = (await tab.wait_for(of_type("notebook"), timeout=60))["cells"][0]["id"]
            ready = await tab.wait_for(of_type("kernel-ready"), timeout=60)
            assert ready["python"].startswith(_minor(venv) + ".")
            code = "import sys\nprint(sys.prefix)\n6 * 7"
            messages = await tab.run({cell: code}, timeout=60)
            assert console_text(messages, cell).strip() == str(venv.root)
            assert results(messages, cell) == ["42"]
            # Completion without the [completion] extra (no jedi): the built-in completer.
            await tab.send({"type": "complete", "request_id": "r1", "code": "sys.pre", "cursor": 7, "cell_id": cell})
            answer = await tab.wait_for(of_type("completion-result", request_id="r1"), timeout=60)
            assert "prefix" in [c["name"] for c in answer["completions"]]
            await tab.close()
    finally:
        _stop(process, workdir, "edit")
    assert notebook.is_file()


async def test_run_serves_the_app_and_runs_the_notebook_for_each_reader(venv: Venv, workdir: Path) -> None:
    notebook = workdir / "app.py"
    write_notebook(notebook, Notebook(cells=[
        Cell(id="first", kind="code", source="import sys\nprint(f'python {sys.version_info[0]}.{sys.version_info[1]}')"),
        Cell(id="second", kind="code", source="answer = 6 * 7\nanswer"),
    ]))  # fmt: skip
    process, url = await _start(venv, "run", notebook, workdir)
    try:
        async with httpx.AsyncClient() as http:
            tab = await _open_tab(url, http)
            first, second = (c["id"] for c in (await tab.wait_for(of_type("notebook"), timeout=60))["cells"])
            await tab.wait_for(lambda m: m.get("type") == "completed-run" and second in m.get("cell_ids", []), timeout=60)
            assert console_text(tab.messages, first).strip() == f"python {_minor(venv)}"
            assert results(tab.messages, second) == ["42"]
            await tab.close()
    finally:
        _stop(process, workdir, "run")


def test_a_missing_optional_dependency_names_its_extra(venv: Venv, workdir: Path) -> None:
    probe = run([venv.python, "-c", "import jedi"], cwd=workdir, env=user_env())
    assert probe.returncode == 1  # only the declared dependencies are installed
    proc = run([venv.python, "-c", "import pyodide_host.islands.sphinx"], cwd=workdir, env=user_env())
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (
        "pyodide_host.extras.MissingExtraError: the Sphinx extension pyodide_host.islands.sphinx needs "
        "docutils, which is not installed: pip install 'amphikernel[docs]'"
    )
