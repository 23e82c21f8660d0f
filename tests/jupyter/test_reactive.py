"""Reactive re-runs in Jupyter terms, through jupyter_client: a Jupyter cell is the kernel cell
whose id the client sends in ``metadata.cellId`` (as JupyterLab does); re-running a cell re-runs
its dependents, whose new outputs reach the client as ``update_display_data`` on the display
ids of their shown outputs, parented to the triggering request and before its ``idle``.
Without a cell id, each request is a new cell appended at the end (script semantics): a plain
top-to-bottom session behaves exactly as under ipykernel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.jupyter.harness import execute, kernel, plain

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def kc() -> Iterator[Any]:
    with kernel() as (_km, client):
        yield client


def _display_id(msg: dict[str, Any]) -> str:
    return msg["content"]["transient"]["display_id"]


def test_rerun_updates_dependent_output_before_idle(kc: Any) -> None:
    a = execute(kc, "a = 1", "cell-A")
    assert a.reply["content"]["status"] == "ok" and not a.of_type("display_data")
    b = execute(kc, "b = a + 1; b", "cell-B")
    # A named cell's result is display_data: JupyterLab updates only those in place.
    assert not b.of_type("execute_result")
    [result] = b.of_type("display_data")
    assert plain(result) == "2"
    shown = _display_id(result)
    # Re-run A with new code: B re-runs; its output is updated in place, within A's request
    # (collect() returns at A's idle, so everything listed arrived before it).
    again = execute(kc, "a = 10", "cell-A")
    assert again.reply["content"]["status"] == "ok"
    updates = again.of_type("update_display_data")
    assert [(_display_id(u), plain(u)) for u in updates] == [(shown, "11")]
    assert all(u["parent_header"]["msg_id"] == again.reply["parent_header"]["msg_id"] for u in updates)
    assert not again.of_type("execute_result", "display_data")  # A itself shows nothing
    # The kernel's state is the new one, and B's own re-run shows the same value.
    assert plain(execute(kc, "b", "cell-C").of_type("display_data")[0]) == "11"


def test_rerunning_unchanged_cell_reruns_dependents(kc: Any) -> None:
    execute(kc, "import itertools\ncounter = itertools.count()", "cell-counter")
    first = execute(kc, "n = next(counter); n", "cell-n")
    shown = _display_id(first.of_type("display_data")[0])
    again = execute(kc, "import itertools\ncounter = itertools.count(100)", "cell-counter")
    assert [(_display_id(u), plain(u)) for u in again.of_type("update_display_data")] == [(shown, "100")]
    # The same code again: the cell and its dependents run again.
    again = execute(kc, "import itertools\ncounter = itertools.count(100)", "cell-counter")
    assert [plain(u) for u in again.of_type("update_display_data")] == ["100"]


def test_dependent_prints_and_errors(kc: Any) -> None:
    execute(kc, "p = 2", "cell-p")
    shown = execute(kc, "print('p is', p)\np * 3", "cell-q")
    assert [m["content"]["text"] for m in shown.of_type("stream")] == ["p is 2\n"]
    slot = _display_id(shown.of_type("display_data")[0])
    # The dependent's console text arrives as a stream of the triggering request.
    again = execute(kc, "p = 5", "cell-p")
    assert [m["content"]["text"] for m in again.of_type("stream")] == ["p is 5\n"]
    assert [(_display_id(u), plain(u)) for u in again.of_type("update_display_data")] == [(slot, "15")]
    # An error in the dependent is shown in its slot, as text.
    again = execute(kc, "p = None", "cell-p")
    assert again.reply["content"]["status"] == "ok"
    [update] = again.of_type("update_display_data")
    assert _display_id(update) == slot and "TypeError" in plain(update)
    # The triggering cell fails: the dependent is not run on stale values (its slot says so),
    # and the request's reply is the error.
    failed = execute(kc, "p = 1 / 0", "cell-p")
    assert failed.reply["content"]["status"] == "error" and failed.reply["content"]["ename"] == "ZeroDivisionError"
    assert [m["content"]["ename"] for m in failed.of_type("error")] == ["ZeroDivisionError"]
    [update] = failed.of_type("update_display_data")
    assert _display_id(update) == slot and "not run" in plain(update)


def test_deleted_cells_leave_the_kernel(kc: Any) -> None:
    execute(kc, "gone = 3", "cell-gone")
    reader = execute(kc, "gone + 1", "cell-reader")
    slot = _display_id(reader.of_type("display_data")[0])
    # JupyterLab names deleted cells in the next request's metadata.deletedCells.
    body = {"code": "1", "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False,
            "stop_on_error": True}  # fmt: skip
    msg = kc.session.msg("execute_request", body, metadata={"cellId": "cell-after", "deletedCells": ["cell-gone"]})
    kc.shell_channel.send(msg)
    from tests.jupyter.harness import collect

    iopub = collect(kc, msg["header"]["msg_id"])
    updates = [m for m in iopub if m["msg_type"] == "update_display_data"]
    assert [_display_id(u) for u in updates] == [slot] and "NameError" in plain(updates[0])
    assert execute(kc, "'gone' in globals()", "cell-check").of_type("display_data")[0]["content"]["data"][
        "text/plain"
    ] == "False"


def test_without_cell_ids_a_session_runs_as_a_script() -> None:
    """The fallback: each request without a cell id is a new cell at the end.  Redefinitions
    are allowed and nothing above a new cell is ever re-run, as under ipykernel."""
    with kernel() as (_km, kc):
        assert execute(kc, "x = 1").reply["content"]["status"] == "ok"
        y = execute(kc, "y = x + 1; y")
        assert plain(y.of_type("execute_result")[0]) == "2"  # ipykernel's shape: execute_result
        assert y.of_type("execute_result")[0]["content"]["execution_count"] == 2
        redefined = execute(kc, "x = 5")
        assert not redefined.of_type("update_display_data", "execute_result", "stream")
        assert plain(execute(kc, "y").of_type("execute_result")[0]) == "2"
        assert plain(execute(kc, "x, y").of_type("execute_result")[0]) == "(5, 2)"
        # The same code sent again is again a new cell: it runs once, nothing else does.
        assert execute(kc, "x = x + 1").reply["content"]["status"] == "ok"
        assert execute(kc, "x = x + 1").reply["content"]["status"] == "ok"
        again = execute(kc, "x")
        assert plain(again.of_type("execute_result")[0]) == "7"
        # Execution counts number the requests, as ipykernel's do.
        assert again.reply["content"]["execution_count"] == 8


def test_cell_id_in_metadata_cell_id(kc: Any) -> None:
    """``metadata.cell_id`` identifies a cell too (clients other than JupyterLab)."""
    execute(kc, "k = 1", "cell-k", id_key="cell_id")
    shown = execute(kc, "k * 100", "cell-k2", id_key="cell_id")
    slot = shown.of_type("display_data")[0]["content"]["transient"]["display_id"]
    again = execute(kc, "k = 2", "cell-k", id_key="cell_id")
    assert [(_display_id(u), plain(u)) for u in again.of_type("update_display_data")] == [(slot, "200")]
