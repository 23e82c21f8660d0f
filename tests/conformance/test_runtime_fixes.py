"""Regression tests for the runtime incompatibilities the corpus found (subprocess host, the
``amphi execute`` code path, and a live kernel for re-runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from subprocess_host.headless import run_in_process, run_in_subprocess_async
from tests.conformance.corpus import cell_items
from tests.conformance.reactive import ReactiveSession
from tests.conformance.runners import notebook_from_sources

pytestmark = pytest.mark.timeout(60)


async def _items(sources: list[str], cwd: Path) -> list[list[tuple[str, str]]]:
    result = await run_in_subprocess_async(notebook_from_sources(sources), cwd=cwd, timeout=30)
    return [cell_items(c.outputs) for c in result.notebook.cells]


async def test_names_a_failed_cell_bound_before_raising_are_usable_below(tmp_path: Path) -> None:
    # wwtp_09_errors: a cell defines an exception class and raises it; the next cell uses it.
    items = await _items([
        "class MySpecialError(ValueError):\n    pass\n\nraise MySpecialError('here')",
        "try:\n    raise MySpecialError('x')\nexcept MySpecialError:\n    print('caught')",
        "y = 1\nz = 1 / 0\nw = 2",
        "print(y)",
        "print(z)",  # z was never bound: not run (no stale or missing value is used)
        "print(w)",
    ], tmp_path)
    assert items == [
        [("error", "MySpecialError")], [("stdout", "caught\n")], [("error", "ZeroDivisionError")],
        [("stdout", "1\n")], [], [],
    ]


def test_names_a_failed_cell_bound_are_usable_in_process(tmp_path: Path) -> None:
    result = run_in_process(notebook_from_sources(["class E(Exception): pass\nraise E()", "print(E.__name__)"]), cwd=tmp_path)
    assert [cell_items(c.outputs) for c in result.notebook.cells] == [[("error", "E")], [("stdout", "E\n")]]


async def test_console_output_comes_before_the_result_and_displays(tmp_path: Path) -> None:
    # pytudes_triplets: stdout printed before the last expression must come first, every time.
    cells = [f"print('p{i}')\n{i}" for i in range(25)]
    cells += ["print('a')\ndisplay('d')\nprint('b')\n'r'"]
    items = await _items(cells, tmp_path)
    for i in range(25):
        assert items[i] == [("stdout", f"p{i}\n"), ("result", str(i))]
    assert items[25] == [("stdout", "a\n"), ("display", "'d'"), ("stdout", "b\n"), ("result", "'r'")]


async def test_a_warning_shows_on_every_run_of_its_cell(tmp_path: Path) -> None:
    # Reactive agreement: a re-run cell shows what a fresh run shows.
    code = "import warnings\nwarnings.warn('careful')"
    async with ReactiveSession(None, tmp_path) as session:
        await session.execute({0: code}, 30, order=[0])
        first = session.items(1)
        await session.execute({0: code + "\n"}, 30)
        second = session.items(1)
    assert first == second
    ((kind, text),) = first[0]
    assert kind == "stderr" and "UserWarning: careful" in text


async def test_jupyter_conventions(tmp_path: Path) -> None:
    items = await _items([
        "import os, sys, builtins\nprint(__name__, __builtins__ is builtins, os.getcwd() == os.path.realpath(os.curdir))",
        "None",
        "def f():\n    pass\nf()",
        "help(len)",
        "from unittest import mock\ndef target():\n    return 1\nwith mock.patch('__main__.target', return_value=2):\n    print(target())",
    ], tmp_path)
    assert items[0] == [("stdout", "__main__ True True\n")]
    assert items[1] == [] and items[2] == []
    ((kind, text),) = items[3]
    assert kind == "stdout" and text.startswith("Help on built-in function len")
    assert items[4] == [("stdout", "2\n")]
