"""The Pyodide host's kernel session (``pyodide_host.session``) running in Pyodide under Node,
driven frame by frame through ``pyodide_host/node/harness.mjs``."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from lifecycle import protocol, ui
from pyodide_host.build.node_harness import NodeHarness
from pyodide_host.session import NO_ISOLATION_MESSAGE

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def harness(pyodide_dist: Path) -> Iterator[NodeHarness]:
    """One Node process with one session (not cross-origin isolated: no ``wait_reply``)."""
    h = NodeHarness(pyodide_dist, ["--interrupt"])
    try:
        h.wait_ready(120)
        h.wait_for(lambda n: isinstance(n, protocol.KernelReady), timeout=60)
        yield h
    finally:
        code = h.close()
        assert code == 0, h.stderr_tail()


def outputs(notes: list[Any], cell_id: str) -> list[str]:
    return [n.data.get("text/plain", "") for n in notes if isinstance(n, protocol.CellOutput) and n.cell_id == cell_id]


def errors(notes: list[Any]) -> list[protocol.CellError]:
    return [n for n in notes if isinstance(n, protocol.CellError)]


def test_kernel_ready_announces_pyodide(harness: NodeHarness) -> None:
    ready = harness.wait_for(lambda n: isinstance(n, protocol.KernelReady))
    assert ready.protocol == protocol.PROTOCOL_VERSION
    assert ready.python.startswith("3.14")
    assert "interrupt" in ready.capabilities  # --interrupt set an interrupt buffer
    assert "stdin" not in ready.capabilities  # no wait_reply: not cross-origin isolated
    assert harness.exec("import sys; sys.platform") == "emscripten"


def test_execute_cells_and_rerun(harness: NodeHarness) -> None:
    notes = harness.execute({"a": "x = 20", "b": "y = x + 1\ny * 2", "c": "print('from pyodide')"})
    assert errors(notes) == []
    assert outputs(notes, "b") == ["42"]
    console = "".join(n.text for n in notes if isinstance(n, protocol.CellConsole) and n.cell_id == "c")
    assert console == "from pyodide\n"
    notes = harness.execute({"a": "x = 1"})
    assert notes[-1].cell_ids == ["a", "b"]
    assert outputs(notes, "b") == ["4"]


def test_top_level_await_runs_on_the_webloop(harness: NodeHarness) -> None:
    notes = harness.execute(
        {"aw": "import asyncio\nloop = type(asyncio.get_running_loop()).__name__\nawait asyncio.sleep(0.01)\nloop"}
    )
    assert errors(notes) == []
    assert outputs(notes, "aw") == ["'WebLoop'"]


def test_slider_update_reruns_dependents(harness: NodeHarness) -> None:
    notes = harness.execute(
        {"s": "from lifecycle import ui\ns = ui.slider(0, 10, label='n')\ns", "d": "doubled = s.value * 2\ndoubled"}
    )
    (spec,) = [n.data[ui.UI_MIME] for n in notes if isinstance(n, protocol.CellOutput) and n.cell_id == "s"]
    notes = harness.request(protocol.UpdateUIElement(values={spec["id"]: 7}))
    assert notes[-1].cell_ids == ["d"]
    assert outputs(notes, "d") == ["14"]
    # Updates sent faster than the cells run are merged; the last value wins.
    mark = harness.mark()
    for value in range(1, 11):
        harness.send(protocol.UpdateUIElement(values={spec["id"]: value}))
    harness.send(protocol.ExecuteCells(cell_ids=["marker"], codes=["1"]))
    harness.wait_for(lambda n: isinstance(n, protocol.CompletedRun) and n.cell_ids == ["marker"], mark)
    assert outputs(harness.since(mark), "d")[-1] == "20"


def test_interrupt_buffer_stops_a_busy_cell(harness: NodeHarness) -> None:
    """The page writes SIGINT into the interrupt buffer from its own thread while a cell keeps
    the worker busy; the cell gets KeyboardInterrupt and the kernel goes on serving."""
    harness.control("interrupt-after", ms=300)
    started = time.monotonic()
    notes = harness.execute({"spin": "n = 0\nwhile True:\n    n += 1", "after_spin": "n"}, timeout=60)
    (error,) = errors(notes)
    assert (error.cell_id, error.ename) == ("spin", "KeyboardInterrupt")
    assert time.monotonic() - started < 30
    notes = harness.execute({"next": "'still serving'"})
    assert outputs(notes, "next") == ["'still serving'"]


def test_input_without_isolation_explains_instead_of_hanging(harness: NodeHarness) -> None:
    notes = harness.execute({"ask": "name = input('who? ')"})
    (error,) = errors(notes)
    assert error.cell_id == "ask" and error.ename == "StdinUnavailableError"
    assert error.evalue == NO_ISOLATION_MESSAGE
    assert "cross-origin isolated" in error.evalue
    assert not [n for n in notes if isinstance(n, protocol.InputRequest)]


def test_printed_lines_are_batched(harness: NodeHarness) -> None:
    notes = harness.execute({"p": "for i in range(20_000):\n    print(i)"})
    consoles = [n for n in notes if isinstance(n, protocol.CellConsole) and n.cell_id == "p"]
    text = "".join(n.text for n in consoles)
    assert text == "".join(f"{i}\n" for i in range(20_000))
    assert 1 <= len(consoles) <= 20, f"{len(consoles)} console messages for 20,000 lines"


def test_image_virtual_file_is_announced_and_readable(harness: NodeHarness) -> None:
    code = "from lifecycle.display import image\nimage(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(300_000), format='png')"
    notes = harness.execute({"img": code})
    (notice,) = [n for n in notes if isinstance(n, protocol.VirtualFileNotice)]
    assert notice.url.startswith("@file/") and notice.url.endswith(".png")
    assert (notice.mimetype, notice.size, notice.released) == ("image/png", 300_008, False)
    assert notice.shm_name is None  # in-memory store
    (html,) = [n.data["text/html"] for n in notes if isinstance(n, protocol.CellOutput) and n.cell_id == "img"]
    assert notice.url in html
    # What the service worker serves for the URL:
    read = harness.exec(
        "from pyodide_host.session import current_session\n"
        f"data, mime = current_session().read_file({notice.url!r})\n"
        "f'{len(data)} {mime} {data[:4]!r}'"
    )
    assert read == "300008 image/png b'\\x89PNG'"
    # Re-running the cell releases the old file.
    notes = harness.execute({"img": "1"})
    released = [n for n in notes if isinstance(n, protocol.VirtualFileNotice)]
    assert [(n.url, n.released) for n in released] == [(notice.url, True)]


def test_bad_frames_are_reported_and_the_kernel_serves(harness: NodeHarness) -> None:
    mark = harness.mark()
    harness.send_frame(msgspec.msgpack.encode({"type": "teleport"}))
    error = harness.wait_for(lambda n: isinstance(n, protocol.KernelError), mark)
    assert error.command_type == "teleport"
    mark = harness.mark()
    harness.send_frame(b"\xc1not msgpack")
    harness.wait_for(lambda n: isinstance(n, protocol.KernelError), mark)
    notes = harness.execute({"ok": "6 * 7"})
    assert outputs(notes, "ok") == ["42"]


def test_save_notebook_is_refused_politely(harness: NodeHarness) -> None:
    mark = harness.mark()
    harness.send_frame(msgspec.msgpack.encode({"type": "save-notebook", "cells": [], "request_id": "s1"}))
    note = harness.wait_for(lambda n: isinstance(n, protocol.UnknownNotification) and n.type == "notebook-saved", mark)
    saved = msgspec.msgpack.decode(note.raw)
    assert saved["ok"] is False and saved["request_id"] == "s1" and "browser" in saved["error"]


def _probe_wheel() -> bytes:
    """A tiny pure wheel (``amphi_probe``), built here: installing it needs no network."""
    files = {
        "amphi_probe/__init__.py": b"VALUE = 'probe installed'\n",
        "amphi_probe-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: amphi-probe\nVersion: 0.1\n",
        "amphi_probe-0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for name, data in files.items()
    ) + "amphi_probe-0.1.dist-info/RECORD,,\n"
    files["amphi_probe-0.1.dist-info/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_install_packages_through_micropip(harness: NodeHarness) -> None:
    wheel = base64.b64encode(_probe_wheel()).decode()
    harness.exec(
        "import base64\n"
        f"open('/tmp/amphi_probe-0.1-py3-none-any.whl', 'wb').write(base64.b64decode({wheel!r}))"
    )
    mark = harness.mark()
    local = "emfs:/tmp/amphi_probe-0.1-py3-none-any.whl"
    harness.send(protocol.InstallPackages(packages=["--index-url=http://evil", local], request_id="r1"))
    result = harness.wait_for(lambda n: isinstance(n, protocol.PackagesInstalled), mark, timeout=120)
    assert result.request_id == "r1"
    assert result.installed == [local], result.failed
    assert list(result.failed) == ["--index-url=http://evil"]
    assert "not a package requirement" in result.failed["--index-url=http://evil"]
    notes = harness.execute({"probe_pkg": "import amphi_probe\namphi_probe.VALUE"})
    assert outputs(notes, "probe_pkg") == ["'probe installed'"]


def test_restart_cancels_tears_down_and_starts_fresh(harness: NodeHarness) -> None:
    harness.execute({"keep": "kept = 'old kernel'", "vf": "from lifecycle.virtual_files import publish\nurl = publish(b'x' * 10, 'a.txt')"})
    # A cell awaiting forever: only cancellation of the kernel task can end it.
    mark = harness.mark()
    harness.send(protocol.ExecuteCells(cell_ids=["slow"], codes=["import asyncio\nawait asyncio.sleep(3600)"]))
    harness.wait_for(lambda n: isinstance(n, protocol.CellStatus) and n.cell_id == "slow" and n.status == "running", mark)
    before = json.loads(harness.exec("import json, lifecycle.context as c\njson.dumps([len(c._alive)])") or "[]")
    mark = harness.mark()
    harness.send_frame(msgspec.msgpack.encode({"type": "restart-kernel", "request_id": "r-1"}))
    ready = harness.wait_for(lambda n: isinstance(n, protocol.KernelReady), mark, timeout=60)
    restarted = harness.wait_for(lambda n: isinstance(n, protocol.UnknownNotification) and n.type == "kernel-restarted", mark)
    assert msgspec.msgpack.decode(restarted.raw) == {"type": "kernel-restarted", "ok": True, "error": "", "request_id": "r-1"}
    notes = harness.since(mark)
    assert notes.index(ready) < notes.index(restarted)
    # teardown ran on the cancellation: virtual files shut down, context gone, globals cleared
    state = json.loads(
        harness.exec(
            "import json, gc, lifecycle.context as c\n"
            "from pyodide_host.session import current_session\n"
            "from lifecycle.kernel import Kernel\n"
            "from lifecycle.virtual_files import InMemoryStore\n"
            "s = current_session()\n"
            "old = [k for k in gc.get_objects() if isinstance(k, Kernel) and k is not s.kernel]\n"
            "stores = [v for v in gc.get_objects() if isinstance(v, InMemoryStore) and v is not s.runtime.virtual_files]\n"
            "json.dumps({'alive': len(c._alive), 'generation': s.generation,\n"
            "  'old_stores_closed': bool(stores) and all(v.closed and len(v) == 0 for v in stores),\n"
            "  'old_closed': all(k.closed for k in old), 'old_globals': sorted({n for k in old for n in k.globals if n != '__builtins__'}),\n"
            "  'new_globals': sorted(n for n in s.kernel.globals if not n.startswith('__'))})"
        )
        or "{}"
    )
    assert before == [1] and state["alive"] == 1
    assert state["old_closed"] and state["old_globals"] == []
    assert state["old_stores_closed"]
    assert state["new_globals"] == []
    notes = harness.execute({"probe": "kept"})
    (error,) = errors(notes)
    assert error.ename == "NameError"  # a fresh kernel: nothing of the old one
    notes = harness.execute({"again": "1 + 1"})
    assert outputs(notes, "again") == ["2"]


def test_input_with_a_synchronous_reply(pyodide_dist: Path) -> None:
    """A cross-origin-isolated page answers ``input()`` through a blocking ``wait_reply``
    (Atomics.wait); the harness's stand-in answers at once."""
    with NodeHarness(pyodide_dist, ["--stdin-answer", "Ada"]) as h:
        h.wait_ready(120)
        ready = h.wait_for(lambda n: isinstance(n, protocol.KernelReady), timeout=60)
        assert "stdin" in ready.capabilities
        notes = h.execute({"ask": "name = input('who? ')", "greet": "f'hi {name}'"})
        (request,) = [n for n in notes if isinstance(n, protocol.InputRequest)]
        assert (request.cell_id, request.prompt) == ("ask", "who? ")
        assert outputs(notes, "greet") == ["'hi Ada'"]


def test_run_notebook_in_pyodide(pyodide_dist: Path, tmp_path: Path) -> None:
    """The helper the conformance runners use: a notebook top to bottom, outputs collected,
    the working directory mounted from the host."""
    from lifecycle.notebook import Cell, Notebook
    from pyodide_host.build.node_harness import run_notebook

    nb = Notebook(
        cells=[
            Cell(id="a", kind="code", source="import sys\nprint(sys.platform)\nx = 6"),
            Cell(id="m", kind="markdown", source="# text"),
            Cell(id="b", kind="code", source="open('written.txt', 'w').write('from pyodide')\nx * 7"),
            Cell(id="c", kind="code", source="import pickle\nclass P: pass\ntype(pickle.loads(pickle.dumps(P()))).__name__"),
            Cell(id="d", kind="code", source="1 / 0"),
        ]
    )
    result = run_notebook(nb, cwd=tmp_path, timeout=120, dist=pyodide_dist)
    outputs_of = {c.id: c.outputs for c in result.notebook.cells if c.kind == "code"}
    assert outputs_of["a"] == [{"output_type": "stream", "name": "stdout", "text": "emscripten\n"}]
    assert [o["data"]["text/plain"] for o in outputs_of["b"]] == ["42"]
    assert [o["data"]["text/plain"] for o in outputs_of["c"]] == ["'P'"]
    assert outputs_of["d"][0]["ename"] == "ZeroDivisionError"
    assert result.failed_cells == ["d"] and result.kernel_errors == []
    assert (tmp_path / "written.txt").read_text() == "from pyodide"
