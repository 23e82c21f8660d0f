"""Widget models: a real ``anywidget.AnyWidget`` (from PyPI, unmodified) in a real kernel,
driven through ``serve`` on both queue readers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lifecycle import protocol, widgets
from lifecycle.kernel import Kernel
from lifecycle.kernel_lifecycle import KernelArgs, KernelRuntime
from tests.lifecycle.harness import READERS, KernelHarness, errors, outputs, statuses

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[2]

ESM = "export default { render({ model, el }) {} }"
COUNTER = f'''
import anywidget
import traitlets

class Counter(anywidget.AnyWidget):
    _esm = {ESM!r}
    count = traitlets.Int(0).tag(sync=True)
    data = traitlets.Bytes(b"").tag(sync=True)

counter = Counter()
counter
'''


class WidgetHarness(KernelHarness):
    """The test harness with :func:`lifecycle.widgets.install` called right after
    ``create_kernel`` (before the control loop starts)."""

    def _on_ready(self, kernel: Kernel, runtime: KernelRuntime) -> None:
        super()._on_ready(kernel, runtime)
        widgets.install(kernel, runtime)


@pytest.fixture(params=READERS)
async def wh(request: pytest.FixtureRequest) -> AsyncIterator[WidgetHarness]:
    """A started kernel with widgets, without virtual files, on each queue reader."""
    h = await WidgetHarness(request.param).start()
    try:
        yield h
    finally:
        if not h.finished.is_set():
            await h.stop()


def model_updates(notes: list[Any], model_id: str | None = None, method: str | None = None) -> list[protocol.WidgetModelUpdate]:
    return [
        n for n in notes
        if isinstance(n, protocol.WidgetModelUpdate)
        and (model_id is None or n.model_id == model_id)
        and (method is None or n.method == method)
    ]


def counter_open(notes: list[Any]) -> protocol.WidgetModelUpdate:
    opens = [n for n in model_updates(notes, method="open") if n.state.get("_anywidget_id") == "__main__.Counter"]
    assert len(opens) == 1, notes
    return opens[0]


def kernel_errors(notes: list[Any]) -> list[protocol.KernelError]:
    return [n for n in notes if isinstance(n, protocol.KernelError)]


async def start_counter(h: KernelHarness, reader_code: str = "counter.count") -> str:
    """Define the counter (cell ``w``) and a reader (cell ``r``); return the model id."""
    notes = await h.execute({"w": COUNTER, "r": reader_code})
    assert not errors(notes), errors(notes)
    return counter_open(notes).model_id


# ------------------------------------------------------------------------------ display


async def test_displayed_counter_opens_model_with_inline_esm(wh: WidgetHarness) -> None:
    notes = await wh.execute({"w": COUNTER})
    assert not errors(notes), errors(notes)
    opened = counter_open(notes)
    assert opened.state["count"] == 0
    assert opened.state["_esm"] == ESM  # no virtual-file store: the source inline
    assert opened.state["_model_name"] == "AnyModel"
    # binary traits travel as buffers at their paths, never inside the JSON state
    assert "data" not in opened.state
    assert opened.buffer_paths == [["data"]] and opened.buffers == [b""]
    # the layout child model was opened before it is referenced
    layout = opened.state["layout"].removeprefix("IPY_MODEL_")
    (layout_open,) = model_updates(notes, layout, "open")
    assert notes.index(layout_open) < notes.index(opened)
    (output,) = [n for n in notes if isinstance(n, protocol.CellOutput) and n.cell_id == "w"]
    view = output.data[widgets.WIDGET_MIME]
    assert view["model_id"] == opened.model_id and view["version_major"] == 2
    assert "text/plain" in output.data


@pytest.mark.parametrize("reader", READERS)
async def test_esm_and_css_become_virtual_files(reader: str) -> None:
    h = await WidgetHarness(reader, KernelArgs(virtual_files="in_memory")).start()
    try:
        code = COUNTER.replace("    count =", "    _css = '.counter { color: red }'\n    count =")
        notes = await h.execute({"w": code})
        assert not errors(notes), errors(notes)
        opened = counter_open(notes)
        store = h.runtime.virtual_files
        esm, css = opened.state["_esm"], opened.state["_css"]
        assert esm["mimetype"] == "text/javascript" and esm["url"].startswith("@file/")
        assert css["mimetype"] == "text/css" and css["url"].endswith(".css")
        assert store.read(esm["url"]) == ESM.encode()
        assert store.read(css["url"]) == b".counter { color: red }"
        assert store.get(esm["url"]).owner == "w" and store.get(esm["url"]).mimetype == "text/javascript"
        # widgets of one cell with the same source share one file
        notes = await h.execute({"x": "twins = [Counter(), Counter()]"})
        urls = {n.state["_esm"]["url"] for n in model_updates(notes, method="open") if "_esm" in n.state}
        twin_ids = {n.model_id for n in model_updates(notes, method="open") if "_esm" in n.state}
        assert len(twin_ids) == 2 and len(urls) == 1 and urls != {esm["url"]}
        # deleting a cell closes the models it created and releases their file
        mark = h.mark()
        await h.request(protocol.DeleteCells(cell_ids=["x"]))
        assert twin_ids <= {n.model_id for n in model_updates(h.since(mark), method="close")}
        assert urls.isdisjoint(f.url for f in store.files())
        # re-running the creating cell closes its old model and releases its files
        mark = h.mark()
        await h.execute({"w": code + "\n"})
        after = h.since(mark)
        assert model_updates(after, opened.model_id, "close")
        assert esm["url"] not in store and css["url"] not in store
        new_esm = counter_open(after).state["_esm"]["url"]
        assert store.read(new_esm) == ESM.encode()
        new_id = counter_open(after).model_id
        assert model_updates(after, new_id, "close") == []
        # a new _esm set kernel-side is delivered as a new file; the old one is released
        notes = await h.execute({"hmr": "counter._esm = 'export default { render() {} }'"})
        (update,) = model_updates(notes, new_id, "update")
        assert store.read(update.state["_esm"]["url"]) == b"export default { render() {} }"
        assert store.get(update.state["_esm"]["url"]).owner == "w"
        assert new_esm not in store
    finally:
        await h.stop()


# --------------------------------------------------------------------- frontend -> kernel


async def test_frontend_update_sets_traits_and_reruns_readers(wh: WidgetHarness) -> None:
    model_id = await start_counter(wh)
    mark = wh.mark()
    notes = await wh.request(
        protocol.WidgetModel(model_id=model_id, state={"count": 5}, buffer_paths=[["data"]], buffers=[b"\x00\x01"])
    )
    assert statuses(notes, "r") == ["queued", "running", "idle"]
    assert outputs(notes, "r") == ["5"]
    assert statuses(notes, "w") == []  # the creating cell does not re-run
    counter = wh.kernel.globals["counter"]
    assert counter.count == 5 and counter.data == b"\x00\x01"
    # the change is not echoed back to the page
    assert model_updates(wh.since(mark), model_id) == []
    notes = await wh.execute({"p": "(counter.count, counter.data)"})
    assert outputs(notes, "p") == ["(5, b'\\x00\\x01')"]


async def test_trait_observer_changes_go_back_as_one_update(wh: WidgetHarness) -> None:
    code = COUNTER.replace(
        "    data =",
        "    doubled = traitlets.Int(0).tag(sync=True)\n\n"
        "    @traitlets.observe('count')\n"
        "    def _double(self, change):\n"
        "        self.doubled = change['new'] * 2\n\n"
        "    data =",
    )
    notes = await wh.execute({"w": code, "r": "counter.doubled"})
    model_id = counter_open(notes).model_id
    mark = wh.mark()
    notes = await wh.request(protocol.WidgetModel(model_id=model_id, state={"count": 4}))
    assert outputs(notes, "r") == ["8"]
    updates = model_updates(wh.since(mark), model_id)
    assert [u.state for u in updates] == [{"doubled": 8}]  # derived value sent, count not echoed


# --------------------------------------------------------------------- kernel -> frontend


async def test_kernel_side_changes_become_updates_with_buffers(wh: WidgetHarness) -> None:
    model_id = await start_counter(wh)
    notes = await wh.execute({"set": "counter.count = 9\ncounter.data = b'xyz'"})
    assert not errors(notes)
    updates = model_updates(notes, model_id, "update")
    assert [u.state for u in updates] == [{"count": 9}, {}]
    data_update = updates[1]
    assert data_update.buffer_paths == [["data"]] and data_update.buffers == [b"xyz"]
    assert statuses(notes, "r") == []  # kernel-side changes do not re-run readers


# ------------------------------------------------------------------------- custom messages


async def test_custom_messages_both_ways(wh: WidgetHarness) -> None:
    model_id = await start_counter(wh)
    notes = await wh.execute({"s": "counter.send({'hi': 1}, buffers=[b'b'])"})
    (custom,) = model_updates(notes, model_id, "custom")
    assert custom.content == {"hi": 1} and custom.buffers == [b"b"]

    await wh.execute({
        "h": textwrap.dedent("""
            received = []
            def handler(widget, content, buffers):
                received.append((widget is counter, content, [bytes(b) for b in buffers]))
                widget.send({'echo': content['x']})
            counter.on_msg(handler)
        """)
    })
    mark = wh.mark()
    wh.send(protocol.WidgetModel(model_id=model_id, method="custom", content={"x": 2}, buffers=[b"q"]))
    reply = await wh.wait_for(lambda n: isinstance(n, protocol.WidgetModelUpdate) and n.method == "custom", mark)
    assert reply.model_id == model_id and reply.content == {"echo": 2}
    notes = await wh.execute({"p": "received"})
    assert outputs(notes, "p") == ["[(True, {'x': 2}, [b'q'])]"]
    assert not [n for n in wh.since(mark) if isinstance(n, protocol.CellStatus) and n.cell_id == "r"]

    # a handler that raises is reported; the kernel keeps serving
    await wh.execute({"h2": "counter.on_msg(lambda w, c, b: 1 / 0)"})
    mark = wh.mark()
    wh.send(protocol.WidgetModel(model_id=model_id, method="custom", content={"x": 3}))
    error = await wh.wait_for(lambda n: isinstance(n, protocol.KernelError), mark)
    assert "ZeroDivisionError" in error.message and model_id in error.message
    notes = await wh.execute({"p": "len(received)"})
    assert outputs(notes, "p") == ["2"]  # the first handler still ran


# ------------------------------------------------------------------------------- UI-merge


async def test_many_updates_merge_into_at_most_two_runs(wh: WidgetHarness) -> None:
    model_id = await start_counter(wh)
    mark = wh.mark()
    # keep the kernel busy so that the updates queue up behind the slow cell
    wh.send(protocol.ExecuteCells(cell_ids=["slow"], codes=["import time\ntime.sleep(0.3)"]))
    for i in range(1, 41):
        wh.send(protocol.WidgetModel(model_id=model_id, state={"count": i}, buffer_paths=[["data"]], buffers=[bytes([i])]))
    await wh.wait_for(lambda n: isinstance(n, protocol.CellOutput) and n.cell_id == "r" and n.data["text/plain"] == "40", mark)
    notes = await wh.execute({"p": "(counter.count, counter.data)"})
    assert outputs(notes, "p") == ["(40, b'(')"]
    runs = [n for n in wh.since(mark) if isinstance(n, protocol.CellStatus) and n.cell_id == "r" and n.status == "running"]
    assert 1 <= len(runs) <= 2
    assert outputs(wh.since(mark), "r")[-1] == "40"


# ------------------------------------------------------------------------------ bad input


async def test_bad_updates_are_reported_and_change_nothing(wh: WidgetHarness) -> None:
    model_id = await start_counter(wh)
    mark = wh.mark()
    wh.send(protocol.WidgetModel(model_id=model_id, state={"count": "x"}))
    error = await wh.wait_for(lambda n: isinstance(n, protocol.KernelError), mark)
    assert model_id in error.message and "'count'" in error.message and "ValueError" in error.message

    # one bad trait in a delta: the good one is not applied either
    mark = wh.mark()
    wh.send(protocol.WidgetModel(model_id=model_id, state={"count": 7, "data": 5}))
    error = await wh.wait_for(lambda n: isinstance(n, protocol.KernelError), mark)
    assert "'data'" in error.message

    mark = wh.mark()
    wh.send(protocol.WidgetModel(model_id="no-such-model", state={"count": 1}))
    error = await wh.wait_for(lambda n: isinstance(n, protocol.KernelError), mark)
    assert "no-such-model" in error.message and "LookupError" in error.message

    mark = wh.mark()
    wh.send(protocol.WidgetModel(model_id="no-such-model", method="custom", content={}))
    error = await wh.wait_for(lambda n: isinstance(n, protocol.KernelError), mark)
    assert "no-such-model" in error.message

    notes = await wh.execute({"p": "(counter.count, counter.data)"})
    assert outputs(notes, "p") == ["(0, b'')"]
    assert statuses(wh.since(mark), "r") == []
    # still serving widget updates
    notes = await wh.request(protocol.WidgetModel(model_id=model_id, state={"count": 3}))
    assert outputs(notes, "r") == ["3"]


async def test_widget_created_in_a_thread_a_cell_started(wh: WidgetHarness) -> None:
    await start_counter(wh)
    code = textwrap.dedent("""
        import threading
        box = {}
        worker = threading.Thread(target=lambda: box.setdefault("w", Counter(count=3)))
        worker.start()
        worker.join()
    """)
    notes = await wh.execute({"t": code})
    assert not errors(notes), errors(notes)
    opened = counter_open(notes)
    assert opened.state["count"] == 3
    # not owned by the cell that was running: a re-run of that cell does not close it
    notes = await wh.execute({"t": code + "\n"})
    assert model_updates(notes, opened.model_id, "close") == []


# ------------------------------------------------------------------------------- teardown


async def test_teardown_closes_comms_and_restores_comm() -> None:
    import comm

    original = comm.create_comm
    h = await WidgetHarness("threaded").start()
    model_id = await start_counter(h)
    counter = h.kernel.globals["counter"]
    assert comm.create_comm is not original and widgets.is_patched()
    mark = h.mark()
    await h.stop()
    assert counter.comm is None  # closed through ipywidgets: it forgot the widget
    from ipywidgets.widgets.widget import _instances

    assert model_id not in _instances
    assert model_updates(h.since(mark)) == []  # no close notifications after teardown
    assert not widgets.is_patched()
    assert comm.create_comm is original and comm.get_comm_manager is comm._get_comm_manager
    # outside any kernel the package behaves as shipped
    assert type(comm.create_comm()).__name__ == "DummyComm"


async def test_two_kernels_in_two_threads_get_their_own_messages() -> None:
    a = await WidgetHarness("threaded").start()
    b = await WidgetHarness("threaded").start()
    try:
        await asyncio.gather(start_counter(a), start_counter(b))
        id_a = counter_open(a.since(0)).model_id
        id_b = counter_open(b.since(0)).model_id
        assert id_a != id_b
        ids_a = {n.model_id for n in model_updates(a.since(0))}
        ids_b = {n.model_id for n in model_updates(b.since(0))}
        assert ids_a.isdisjoint(ids_b)

        mark_a, mark_b = a.mark(), b.mark()
        await asyncio.gather(
            a.execute({"set": "counter.count = 11"}), b.execute({"set": "counter.count = 22"})
        )
        assert [u.state for u in model_updates(a.since(mark_a), id_a, "update")] == [{"count": 11}]
        assert [u.state for u in model_updates(b.since(mark_b), id_b, "update")] == [{"count": 22}]
        assert model_updates(a.since(mark_a), id_b) == [] and model_updates(b.since(mark_b), id_a) == []

        # a model of kernel A is unknown to kernel B
        mark_b = b.mark()
        b.send(protocol.WidgetModel(model_id=id_a, state={"count": 1}))
        await b.wait_for(lambda n: isinstance(n, protocol.KernelError), mark_b)
        notes = await a.request(protocol.WidgetModel(model_id=id_a, state={"count": 5}))
        assert outputs(notes, "r") == ["5"]

        # B still works after A is gone, and the patch stays while B lives
        await a.stop()
        assert widgets.is_patched()
        notes = await b.execute({"w": COUNTER + "\n"})
        assert counter_open(notes).model_id != id_b
    finally:
        for h in (a, b):
            if not h.finished.is_set():
                await h.stop()
    assert not widgets.is_patched()


def test_lazy_patch_when_a_cell_imports_anywidget_after_start() -> None:
    """A fresh interpreter: creating the kernel imports neither comm nor ipywidgets; the
    first ``import anywidget`` in a cell is caught by the import hook."""
    script = textwrap.dedent(f"""
        import asyncio, sys
        from tests.lifecycle.test_widgets import COUNTER, WidgetHarness, counter_open
        from lifecycle import protocol, widgets

        async def main():
            h = await WidgetHarness("threaded").start()
            assert "comm" not in sys.modules and "ipywidgets" not in sys.modules, "eager import"
            assert widgets.is_patched()
            notes = await h.execute({{"w": COUNTER, "r": "counter.count"}})
            opened = counter_open(notes)
            assert opened.state["_esm"] == {ESM!r}
            notes = await h.request(protocol.WidgetModel(model_id=opened.model_id, state={{"count": 4}}))
            assert [n.data["text/plain"] for n in notes if isinstance(n, protocol.CellOutput)] == ["4"]
            await h.stop()
            import comm
            assert comm.create_comm is comm._create_comm and not widgets.is_patched()
            print("LAZY-OK")

        asyncio.run(main())
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=100,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert "LAZY-OK" in result.stdout
