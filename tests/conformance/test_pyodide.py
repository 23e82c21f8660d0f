"""The Pyodide host in the conformance suite.

* The Pyodide runner reuses one Node process for many notebooks (a fresh kernel per notebook
  after :meth:`~pyodide_host.build.node_harness.NodeHarness.reset`).  These tests prove that a
  notebook cannot see what an earlier one left behind: a *probe* notebook prints everything a
  *polluter* notebook changes, and shows the same outputs after the polluter as it does in a
  process that ran nothing before it.  What cannot be put back is detected, and the process is
  not reused.
* The Jupyter conventions the corpus relies on hold in Pyodide exactly as in the subprocess
  host (``__name__``, ``__builtins__``, working directory, display rules, output order,
  tracebacks, warnings, ``help()``, recursion limit, ``mock.patch("__main__.X")``...).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pyodide_host.build.node_harness import NodeHarness, StateLeakError
from subprocess_host.headless import run_in_subprocess_async
from tests.conformance.corpus import cell_items
from tests.conformance.runners import PyodideRunner, notebook_from_sources

pytestmark = pytest.mark.timeout(300)

POLLUTER = [
    # Module state, import system, interpreter settings.
    "import sys, os, builtins, types, json, warnings, logging, random, gc, signal, linecache, textwrap\n"
    "sys.path.append('/nowhere')\n"
    "sys.setrecursionlimit(600)\n"
    "sys.set_int_max_str_digits(1000)\n"
    "builtins.leaked_builtin = 'leak'\n"
    "os.environ['AMPHI_LEAK'] = '1'\n"
    "warnings.simplefilter('error')\n"
    "logging.basicConfig(level=logging.DEBUG, format='LEAKED %(message)s')\n"
    "logging.getLogger('leaky').setLevel(logging.CRITICAL)\n"
    "random.seed(7)\n"
    "json.dumps = lambda *a, **k: 'patched'\n"
    "json.JSONEncoder.item_separator = ' ;; '\n"
    "textwrap.leaked_attr = 1\n"
    "sys.modules['leakmod'] = types.ModuleType('leakmod')\n"
    "sys.modules['textwrap'] = types.ModuleType('textwrap')\n"
    "gc.disable()\n"
    "gc.set_threshold(5, 5, 5)\n"
    "sys.displayhook = print\n"
    "sys.excepthook = print\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "os.umask(0o077)\n"
    "linecache.cache['<leaked>'] = (1, None, ['x\\n'], '<leaked>')\n"
    "import this\n",
    # Files: a module in the working directory, files outside it.
    "with open('leakmod2.py', 'w') as f:\n    f.write('VALUE = \"polluter\"\\n')\n"
    "import leakmod2\n"
    "with open('/tmp/leak.txt', 'w') as f:\n    f.write('leak')\n"
    "os.makedirs('/home/pyodide/leakdir/sub')\n"
    "os.chdir('/')\n"
    "print(leakmod2.VALUE, os.getcwd())",
    # A background task that would print into a later notebook's cells.
    "import asyncio\n"
    "async def forever():\n"
    "    while True:\n"
    "        await asyncio.sleep(0.01)\n"
    "        if 'probe_marker' in sys.modules['__main__'].__dict__:\n"
    "            print('LEAKED TICK')\n"
    "leaked_task = asyncio.ensure_future(forever())\n"
    "leaked_global = 1",
    "print(json.dumps([1]), sys.getrecursionlimit(), os.environ['AMPHI_LEAK'], leaked_builtin)",
]

PROBE = [
    "probe_marker = 1\n"
    "import asyncio\n"
    "await asyncio.sleep(0.1)\n"
    "import sys, os, builtins, json, warnings, logging, random, gc, signal, linecache\n"
    "print('path', sys.path[-1], len(sys.path))\n"
    "print('limits', sys.getrecursionlimit(), sys.get_int_max_str_digits())\n"
    "print('builtins', hasattr(builtins, 'leaked_builtin'), 'leaked_global' in globals())\n"
    "print('environ', os.environ.get('AMPHI_LEAK'))\n"
    "print('filters', warnings.filters[:1])\n"
    "print('logging', logging.getLogger().handlers, logging.getLogger().level, logging.getLogger('leaky').level)\n"
    "print('random', random.random())\n"
    "print('json', json.dumps([1, 2]), json.JSONEncoder.item_separator)\n"
    "print('modules', 'leakmod' in sys.modules, 'leakmod2' in sys.modules, 'this' in sys.modules)\n"
    "print('gc', gc.isenabled(), gc.get_threshold())\n"
    "print('hooks', sys.displayhook is sys.__displayhook__, sys.excepthook is sys.__excepthook__)\n"
    "print('signal', signal.getsignal(signal.SIGINT))\n"
    "mask = os.umask(0o022); os.umask(mask); print('umask', oct(mask))\n"
    "print('linecache', '<leaked>' in linecache.cache)\n"
    "print('files', os.listdir('.'), os.path.exists('/tmp/leak.txt'), os.path.exists('/home/pyodide/leakdir'))\n"
    "print('main', sys.modules['__main__'].__dict__ is globals(), __name__)",
    "import textwrap\nprint(textwrap.dedent('  x'), hasattr(textwrap, 'leaked_attr'))",
    "import this",
    "open('leakmod2.py', 'w').write('VALUE = \"probe\"\\n')\nimport leakmod2\nprint(leakmod2.VALUE)",
    "import warnings\nwarnings.warn('careful')\nimport logging\nlogging.warning('not configured')",
    "1 / 0",
    "def deep(n):\n    return 0 if n == 0 else 1 + deep(n - 1)\ndeep(550)",
]


@pytest.fixture(scope="module")
def dist() -> Path:
    reason = PyodideRunner().unavailable()
    if reason:
        pytest.skip(reason)
    from pyodide_host.build import BuildError, ensure_dist

    try:
        return ensure_dist(quiet=True)
    except BuildError as exc:
        pytest.fail(f"building the Pyodide dist directory failed: {exc}")


@pytest.fixture
def harness(dist: Path) -> Iterator[NodeHarness]:
    h = NodeHarness(dist)
    try:
        h.wait_ready(120)
        yield h
    finally:
        h.close()


def _run(harness: NodeHarness, sources: list[str], cwd: Path) -> tuple[list[list[tuple[str, str]]], list[str]]:
    cwd.mkdir()
    result = harness.run_notebook(notebook_from_sources(sources), cwd=cwd, timeout=120)
    assert result.kernel_errors == []
    return [cell_items(c.outputs) for c in result.notebook.cells], result.reset


def test_a_notebook_sees_nothing_an_earlier_one_left(harness: NodeHarness, tmp_path: Path) -> None:
    fresh, reset_before = _run(harness, PROBE, tmp_path / "probe1")
    assert reset_before == []  # the first notebook of the process: the baseline itself
    polluted, _ = _run(harness, POLLUTER, tmp_path / "polluter")
    # The pollution took effect (else the test proves nothing).
    assert polluted[1] == [("stdout", "polluter /\n")]
    assert polluted[3] == [("stdout", "patched 600 1 leak\n")]
    after, changed = _run(harness, PROBE, tmp_path / "probe2")
    assert after == fresh, "the probe saw state the polluter left behind"
    # Every kind of change was detected (and put back).
    report = "\n".join(changed)
    for needle in (
        "sys.modules: added", "leakmod", "this", "sys.modules: replaced textwrap", "module builtins: leaked_builtin",
        "module sys: displayhook, excepthook", "path[...]", "module json: dumps",
        "class json.encoder.JSONEncoder: item_separator", "module textwrap: leaked_attr", "os.environ",
        "umask", "recursion limit", "int max str digits", "gc", "signal handlers", "random state",
        "logging loggers", "asyncio tasks pending: 1", "files created: /home/pyodide/leakdir", "/tmp/leak.txt",
        "module linecache: cache[...]", "filters[...]",
    ):  # fmt: skip
        assert needle in report, f"{needle!r} not in the reset report:\n{report}"
    # The probe's expectations themselves (what a fresh process shows).
    lines = dict(line.split(" ", 1) for line in fresh[0][0][1].splitlines())
    assert lines["environ"] == "None" and lines["builtins"] == "False False"
    assert lines["modules"] == "False False False" and lines["files"] == "[] False False"
    assert lines["main"] == "True __main__"
    assert fresh[2][0][0] == "stdout" and "Beautiful is better than ugly." in fresh[2][0][1]
    assert fresh[3] == [("stdout", "probe\n")]
    assert [kind for kind, _ in fresh[4]] == ["stderr"] and "UserWarning: careful" in fresh[4][0][1]
    assert "WARNING:root:not configured" in fresh[4][0][1]
    assert fresh[5] == [("error", "ZeroDivisionError")]
    assert fresh[6] == [("result", "550")]


@pytest.mark.parametrize(
    ("code", "residue"),
    [
        ("import atexit\natexit.register(print, 'bye')", "atexit"),
        ("import pyodide_host, pathlib\npathlib.Path(pyodide_host.__file__).write_text('# changed')", "files changed"),
    ],
    ids=["atexit", "baseline-file"],
)
def test_state_that_cannot_be_put_back_is_detected(harness: NodeHarness, tmp_path: Path, code: str, residue: str) -> None:
    _run(harness, ["x = 1"], tmp_path / "first")
    _run(harness, [code], tmp_path / "second")
    with pytest.raises(StateLeakError) as info:
        harness.reset(tmp_path)
    assert any(residue in r for r in info.value.residue), info.value.residue


def test_files_written_outside_the_working_directory_are_removed(harness: NodeHarness, tmp_path: Path) -> None:
    code = "import os\nos.makedirs('/home/pyodide/keep', exist_ok=True)\nopen('/home/pyodide/keep/f', 'w').write('a')"
    _run(harness, [code], tmp_path / "a")
    items, changed = _run(harness, ["import os\nos.path.exists('/home/pyodide/keep')"], tmp_path / "b")
    assert items == [[("result", "False")]]
    assert any("files created: /home/pyodide/keep" in c for c in changed)


CONVENTIONS = [
    "import os, sys, builtins\nprint(__name__, __builtins__ is builtins, os.path.basename(os.getcwd()))",
    "None",
    "def f():\n    pass\nf()",
    "from unittest import mock\ndef target():\n    return 1\n"
    "with mock.patch('__main__.target', return_value=2):\n    print(target())",
    "print('a')\ndisplay('d')\nprint('b')\n'r'",
    "import warnings\nwarnings.warn('careful')",
    "import sys\nsys.getrecursionlimit()",
    "def deep(n):\n    return 0 if n == 0 else 1 + deep(n - 1)\ndeep(900)",
    "def endless(n):\n    return endless(n + 1)\nendless(0)",
    "import traceback\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    traceback.print_exc()",
    "1 / 0",
    "import pickle\nclass P: pass\ntype(pickle.loads(pickle.dumps(P()))).__name__",
    "print(1)\nsys.stderr.write('e\\n')\nprint(2)",
    "list(range(40))",
    "with open('f.txt', 'w') as fh:\n    fh.write('x')\nsorted(os.listdir('.'))",
    "import __main__\n__main__.__dict__ is globals()",
    "class A:\n    def _repr_html_(self):\n        return '<b>A</b>'\n    def __repr__(self):\n        return 'A()'\nA()",
    "import logging\nlogging.warning('w')",
    "from typing import NamedTuple\nclass Pt(NamedTuple):\n    x: int\n    y: int\nPt(1, 2)",
    "help(len)",
]


async def test_jupyter_conventions_as_in_the_subprocess_host(dist: Path, tmp_path: Path) -> None:
    import asyncio

    from pyodide_host.build.node_harness import run_notebook

    (tmp_path / "p" / "work").mkdir(parents=True)
    (tmp_path / "c" / "work").mkdir(parents=True)
    nb = notebook_from_sources(CONVENTIONS)
    pyodide = await asyncio.to_thread(run_notebook, nb, cwd=tmp_path / "p" / "work", timeout=200, dist=dist)
    cpython = await run_in_subprocess_async(notebook_from_sources(CONVENTIONS), cwd=tmp_path / "c" / "work", timeout=60)
    ours = [cell_items(c.outputs) for c in pyodide.notebook.cells]
    theirs = [cell_items(c.outputs) for c in cpython.notebook.cells]
    *ours_rest, (help_item,) = ours
    assert ours_rest == theirs[:-1]
    assert help_item[0] == "stdout" and help_item[1].startswith("Help on built-in function len")
    assert ours[0] == [("stdout", "__main__ True work\n")]
    assert ours[1] == ours[2] == []
    assert ours[3] == [("stdout", "2\n")]
    assert ours[4] == [("stdout", "a\n"), ("display", "'d'"), ("stdout", "b\n"), ("result", "'r'")]
    assert ours[5] == [("stderr", "<cell>:2: UserWarning: careful\n  warnings.warn('careful')\n")]
    assert ours[6:9] == [[("result", "1000")], [("result", "900")], [("error", "RecursionError")]]
    assert ours[9][0][1].startswith('Traceback (most recent call last):\n  File "<cell>", line 3, in <module>')
    assert ours[12] == [("stdout", "1\n2\n"), ("stderr", "e\n")]
    assert ours[14] == [("result", "['f.txt']")]
