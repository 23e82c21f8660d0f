"""The reactive kernel driven through the real control loop, on both queue readers."""

from __future__ import annotations

import asyncio
import sys

import msgspec
import pytest

from lifecycle import protocol
from lifecycle.kernel_lifecycle import KernelArgs
from tests.lifecycle.harness import OTHER_READER, KernelHarness, console, errors, outputs, statuses

pytestmark = pytest.mark.timeout(60)


async def test_run_order_and_last_expression(harness: KernelHarness) -> None:
    notes = await harness.execute({"a": "x = 1", "b": "y = x + 1\ny * 10", "c": "x; y"})
    assert outputs(notes, "b") == ["20"]
    assert outputs(notes, "c") == ["2"]
    assert outputs(notes, "a") == []
    ran = [n for n in notes if isinstance(n, protocol.CompletedRun)][-1].cell_ids
    assert ran == ["a", "b", "c"]
    assert statuses(notes, "b") == ["queued", "running", "idle"]


async def test_semicolon_suppresses_result(harness: KernelHarness) -> None:
    notes = await harness.execute({"a": "1 + 1;", "b": "2 + 2  # comment"})
    assert outputs(notes, "a") == []
    assert outputs(notes, "b") == ["4"]


async def test_rerun_runs_descendants_once(harness: KernelHarness) -> None:
    await harness.execute({"a": "x = 1", "b": "y = x + 1", "c": "z = x + y\nz", "d": "other = 5"})
    notes = await harness.execute({"a": "x = 10"})
    ran = notes[-1].cell_ids
    assert ran == ["a", "b", "c"]
    assert outputs(notes, "c") == ["21"]
    assert statuses(notes, "d") == []


async def test_top_level_await(harness: KernelHarness) -> None:
    notes = await harness.execute(
        {"a": "import asyncio\nawait asyncio.sleep(0.01)\nv = await asyncio.sleep(0, result=42)", "b": "v + 1"}
    )
    assert errors(notes) == []
    assert outputs(notes, "b") == ["43"]


async def test_compiled_once_until_changed(harness: KernelHarness) -> None:
    await harness.execute({"a": "x = 1", "b": "x"})
    kernel = harness.kernel
    assert kernel is not None
    first = kernel._compiled["b"]
    await harness.execute({"a": "x = 2"})
    assert kernel._compiled["b"] is first  # b re-ran without recompiling
    await harness.execute({"b": "x * 3"})
    assert kernel._compiled["b"] is not first


async def test_traceback_maps_to_cell_and_hides_runtime_frames(harness: KernelHarness) -> None:
    notes = await harness.execute(
        {"f": "def boom(n):\n    return 1 / n", "g": "value = 3\nboom(0)"}
    )
    (err,) = errors(notes)
    assert err.cell_id == "g" and err.ename == "ZeroDivisionError"
    assert [(f.cell_id, f.lineno) for f in err.frames] == [("g", 2), ("f", 2)]
    assert "lifecycle" not in err.traceback and "kernel.py" not in err.traceback
    assert "return 1 / n" in err.traceback  # source lines come from linecache


async def test_failed_cell_marks_descendants_and_never_runs_them(harness: KernelHarness) -> None:
    notes = await harness.execute({"a": "x = 1", "b": "y = x / 0", "c": "z = y + 1", "d": "w = x + 1\nw"})
    assert statuses(notes, "c") == ["queued", "errored-ancestor"]
    assert outputs(notes, "d") == ["2"]
    assert harness.kernel is not None and "z" not in harness.kernel.globals
    notes = await harness.execute({"b": "y = x * 2"})
    assert statuses(notes, "c") == ["queued", "running", "idle"]
    assert harness.kernel.globals["z"] == 3


@pytest.mark.parametrize(
    "code, ename",
    [
        ("raise SystemExit(3)", "SystemExit"),
        ("raise KeyboardInterrupt", "KeyboardInterrupt"),
        ("raise MemoryError('big')", "MemoryError"),
        ("def r(n):\n    return r(n + 1)\nr(0)", "RecursionError"),
    ],
)
async def test_fatal_looking_errors_end_the_run_not_the_kernel(
    harness: KernelHarness, code: str, ename: str
) -> None:
    notes = await harness.execute({"a": "x = 1", "bad": code, "after": "x + 1"})
    (err,) = errors(notes)
    assert (err.cell_id, err.ename) == ("bad", ename)
    if ename in ("SystemExit", "KeyboardInterrupt"):
        assert statuses(notes, "after") == ["queued", "stale"]  # the run ended there
    else:
        assert outputs(notes, "after") == ["2"]  # not a descendant: still runs
    notes = await harness.execute({"next": "x + 41"})
    assert outputs(notes, "next") == ["42"]


async def test_stale_cells_rerun_with_their_ancestor(harness: KernelHarness) -> None:
    await harness.execute({"a": "x = 1", "b": "raise KeyboardInterrupt", "c": "y = x + 1"})
    notes = await harness.execute({"a": "x = 1", "b": "pass", "c": "y = x + 1"})
    assert harness.kernel is not None and harness.kernel.globals["y"] == 2
    assert not errors(notes)


async def test_syntax_error_cell_reported_and_kernel_serves(harness: KernelHarness) -> None:
    notes = await harness.execute({"a": "x = 1", "bad": "def (:\n", "c": "x + 1"})
    (err,) = errors(notes)
    assert err.cell_id == "bad" and err.ename == "SyntaxError"
    assert err.frames and err.frames[-1].cell_id == "bad" and err.frames[-1].lineno == 1
    assert outputs(notes, "c") == ["2"]


async def test_repr_raising_gives_notice(harness: KernelHarness) -> None:
    code = "class Bad:\n    def __repr__(self):\n        raise ValueError('nope')\nBad()"
    notes = await harness.execute({"a": code})
    (text,) = outputs(notes, "a")
    assert "ValueError" in text and "nope" in text
    notes = await harness.execute({"b": "'still serving'"})
    assert outputs(notes, "b") == ["'still serving'"]


async def test_unknown_command_type_and_missing_field_and_truncated_frame(harness: KernelHarness) -> None:
    for frame, tag in (
        (msgspec.msgpack.encode({"type": "teleport", "where": "moon"}), "teleport"),
        (msgspec.msgpack.encode({"type": "execute-cells", "codes": ["1"]}), "execute-cells"),
        (protocol.encode(protocol.ExecuteCells(cell_ids=["a"], codes=["1"]))[:-3], None),
    ):
        mark = harness.mark()
        harness.send_frame(frame)
        err = await harness.wait_for(lambda n: isinstance(n, protocol.KernelError), mark)
        assert err.command_type == tag
        assert (tag or "malformed") in err.message
    notes = await harness.execute({"ok": "6 * 7"})
    assert outputs(notes, "ok") == ["42"]


async def test_handler_exception_becomes_kernel_error(harness: KernelHarness) -> None:
    mark = harness.mark()
    harness.send(protocol.ExecuteCells(cell_ids=["a", "b"], codes=["1"]))
    err = await harness.wait_for(lambda n: isinstance(n, protocol.KernelError), mark)
    assert err.command_type == "execute-cells" and "2 cell ids but 1 codes" in err.message
    mark = harness.mark()
    harness.send(protocol.InputReply(request_id="nobody", text="x"))
    err = await harness.wait_for(lambda n: isinstance(n, protocol.KernelError), mark)
    assert "no input() is waiting" in err.message
    notes = await harness.execute({"ok": "1"})
    assert outputs(notes, "ok") == ["1"]


async def test_delete_cells_removes_names_and_reruns_dependents(harness: KernelHarness) -> None:
    await harness.execute({"a": "x = 1", "b": "x = 2", "c": "y = x * 10"})
    assert harness.kernel is not None and harness.kernel.globals["y"] == 20
    notes = await harness.request(protocol.DeleteCells(cell_ids=["b"]))
    assert notes[-1].cell_ids == ["c"]
    assert harness.kernel.globals["y"] == 10  # falls back to the definition above
    await harness.request(protocol.DeleteCells(cell_ids=["a"]))
    assert "x" not in harness.kernel.globals
    assert "y" not in harness.kernel.globals  # c failed with NameError, like a fresh run


async def test_main_module_name_and_builtins(harness: KernelHarness) -> None:
    notes = await harness.execute({"a": "__name__", "b": "import builtins\n__builtins__ is builtins or __builtins__ is vars(builtins)"})
    assert outputs(notes, "a") == ["'__main__'"]
    assert outputs(notes, "b") == ["True"]


async def test_strict_semantics_errors(harness: KernelHarness) -> None:
    harness.send(protocol.SetConfig(semantics="strict"))  # FIFO: applies before the next run
    notes = await harness.execute({"a": "x = 1", "b": "x = 2", "c": "p = q", "d": "q = p", "e": "y = 5\ny"})
    names = {e.cell_id: e.ename for e in errors(notes)}
    assert names == {"a": "MultipleDefinitionError", "b": "MultipleDefinitionError", "c": "CycleError", "d": "CycleError"}
    assert outputs(notes, "e") == ["5"]


async def test_strict_semantics_any_order(harness: KernelHarness) -> None:
    harness.send(protocol.SetConfig(semantics="strict"))  # FIFO: applies before the next run
    notes = await harness.execute({"use": "total = a + b\ntotal", "defa": "a = 1", "defb": "b = 2"})
    assert outputs(notes, "use") == ["3"]
    assert notes[-1].cell_ids.index("use") > notes[-1].cell_ids.index("defa")


async def test_insert_cell_between_rebinds_readers(harness: KernelHarness) -> None:
    await harness.execute({"a": "x = 1", "c": "y = x + 1"})
    notes = await harness.execute({"b": "x = 100"}, order=["a", "b", "c"])
    assert "c" in notes[-1].cell_ids
    assert harness.kernel is not None and harness.kernel.globals["y"] == 101


async def test_variables_reported_in_edit_mode(harness: KernelHarness) -> None:
    notes = await harness.execute({"a": "x = [1, 2]\nname = 'amphi'"})
    (variables,) = [n for n in notes if isinstance(n, protocol.Variables)]
    infos = {v.name: (v.type, v.repr) for v in variables.cells["a"]}
    assert infos == {"x": ("list", "[1, 2]"), "name": ("str", "'amphi'")}


async def test_stdout_reaches_cell_console() -> None:
    h = await KernelHarness("asyncio", KernelArgs(console="replace")).start()
    try:
        notes = await h.execute({"p": "print('hello')\nimport sys\nprint('oops', file=sys.stderr)"})
        assert console(notes, "p") == "hello\n"
        assert console(notes, "p", "stderr") == "oops\n"
    finally:
        await h.stop()


async def test_run_mode_redacts_and_reports_no_variables() -> None:
    h = await KernelHarness(OTHER_READER, KernelArgs(mode="run")).start()
    try:
        notes = await h.execute({"a": "secret = 1\n1 / 0"})
        (err,) = errors(notes)
        assert err.traceback == "ZeroDivisionError: division by zero"
        assert all(f.line == "" for f in err.frames)
        assert not [n for n in notes if isinstance(n, protocol.Variables)]
    finally:
        await h.stop()


async def test_mock_patch_main_with_install_main() -> None:
    saved = sys.modules["__main__"]
    h = await KernelHarness("asyncio", KernelArgs(install_main=True)).start()
    try:
        notes = await h.execute(
            {
                "a": "class Client:\n    def get(self):\n        return 'real'",
                "b": "from unittest.mock import patch\nwith patch('__main__.Client') as C:\n"
                "    C.return_value.get.return_value = 'mocked'\n    r = Client().get()\nr",
                "c": "import pickle\nclass P:\n    pass\ntype(pickle.loads(pickle.dumps(P()))).__name__",
            }
        )
        assert errors(notes) == []
        assert outputs(notes, "b") == ["'mocked'"]
        assert outputs(notes, "c") == ["'P'"]
    finally:
        await h.stop()
    assert sys.modules["__main__"] is saved  # restored at teardown


async def test_teardown_on_cancellation_and_stop() -> None:
    from lifecycle import context

    h = await KernelHarness("asyncio", KernelArgs(virtual_files="in_memory")).start()
    runtime = h.runtime
    assert runtime is not None and runtime.context in context._alive
    h.send(protocol.ExecuteCells(cell_ids=["slow"], codes=["import asyncio\nawait asyncio.sleep(30)"]))
    await h.wait_for(lambda n: isinstance(n, protocol.CellStatus) and n.status == "running")
    assert h._task is not None
    h._task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await h._task
    assert runtime.torn_down and runtime.context not in context._alive
    assert h.kernel is not None and h.kernel.closed

    h2 = await KernelHarness(OTHER_READER).start()
    await h2.stop()
    assert h2.runtime is not None and h2.runtime.torn_down
