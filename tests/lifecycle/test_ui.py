"""UI elements: every kind on its own, then driven through a real kernel on both queue readers."""

from __future__ import annotations

import datetime
import json
import math
from typing import Any

import msgspec
import pytest

from lifecycle import protocol, ui
from lifecycle.display import format_value
from tests.lifecycle.harness import KernelHarness, errors, outputs

pytestmark = pytest.mark.timeout(60)

IMPORT = "from lifecycle import ui\n"


# ------------------------------------------------------------------------------ helpers


def specs(notes: list[Any], cell_id: str) -> list[dict[str, Any]]:
    """The UI element specs a cell's outputs carry, in order."""
    return [
        n.data[ui.UI_MIME]
        for n in notes
        if isinstance(n, protocol.CellOutput) and n.cell_id == cell_id and ui.UI_MIME in n.data
    ]


def spec_of(notes: list[Any], cell_id: str) -> dict[str, Any]:
    (spec,) = specs(notes, cell_id)
    return spec


def ran(notes: list[Any]) -> list[str]:
    """Every cell that ran, over all completed runs in ``notes``."""
    return [c for n in notes if isinstance(n, protocol.CompletedRun) for c in n.cell_ids]


def value_notes(notes: list[Any], element_id: str) -> list[Any]:
    return [n.value for n in notes if isinstance(n, protocol.UIElementValue) and n.element_id == element_id]


def kernel_errors(notes: list[Any]) -> list[protocol.KernelError]:
    return [n for n in notes if isinstance(n, protocol.KernelError)]


async def update(harness: KernelHarness, values: dict[str, Any]) -> list[Any]:
    """Send one UI update that re-runs cells; its notifications up to completed-run."""
    return await harness.request(protocol.UpdateUIElement(values=values))


async def settle(harness: KernelHarness, mark: int) -> list[Any]:
    """Everything since ``mark``, once the kernel has handled what was sent before: a marker
    cell queued behind it has run (commands are handled in order)."""
    harness.send(protocol.ExecuteCells(cell_ids=["marker"], codes=["marker_ran = True"]))
    await harness.wait_for(
        lambda n: isinstance(n, protocol.CompletedRun) and n.cell_ids == ["marker"], mark
    )
    return harness.since(mark)


def g(harness: KernelHarness, name: str) -> Any:
    assert harness.kernel is not None
    return harness.kernel.globals[name]


def assert_wire_safe(element: ui.UIElement) -> dict[str, Any]:
    """The element's bundle survives the display pipeline and both encodings unchanged."""
    bundle, _ = format_value(element)
    spec = bundle[ui.UI_MIME]
    assert spec == element.spec()
    assert set(spec) == {"id", "kind", "props", "value"} and spec["kind"] == element.kind
    json.dumps(spec["props"], allow_nan=False)  # props are plain JSON
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(spec)) == spec
    assert f'data-kind="{element.kind}"' in bundle["text/html"]
    return spec


# ------------------------------------------------------------------- elements on their own


def test_slider_and_number() -> None:
    s = ui.slider(0, 10, 2, value=4, label="n")
    assert assert_wire_safe(s)["props"] == {"label": "n", "start": 0, "stop": 10, "step": 2}
    assert s.value == 4 and s.convert(6.0) == 6 and isinstance(s.convert(6.0), int)
    for bad, exc in [("6", TypeError), (True, TypeError), (11, ValueError), (math.nan, ValueError)]:
        with pytest.raises(exc):
            s.convert(bad)

    n = ui.number(0, 1, 0.25, value=0.5, label="ratio")
    spec = assert_wire_safe(n)
    assert spec["props"] == {"label": "ratio", "start": 0, "stop": 1, "step": 0.25} and spec["value"] == 0.5
    assert n.convert(0.75) == 0.75 and n.convert(1) == 1
    for bad, exc in [(math.nan, ValueError), (math.inf, ValueError), (1.5, ValueError), (-0.1, ValueError),
                     ("1", TypeError), (None, TypeError), (False, TypeError)]:
        with pytest.raises(exc):
            n.convert(bad)
    free = ui.number()
    assert free.value == 0 and free.convert(1e300) == 1e300 and free.convert(-5.0) == -5
    assert isinstance(free.convert(3.0), int)
    with pytest.raises(ValueError, match="below the minimum"):
        ui.number(1, 5, value=0)
    with pytest.raises(ValueError):
        ui.number(5, 1)
    with pytest.raises(ValueError):
        ui.number(step=0)
    with pytest.raises(ValueError):
        ui.number(start=math.nan)


def test_text_and_text_area() -> None:
    t = ui.text("hi", placeholder="name", max_length=5, label="who")
    spec = assert_wire_safe(t)
    assert spec["props"] == {"label": "who", "placeholder": "name", "max_length": 5} and spec["value"] == "hi"
    assert t.convert("") == "" and t.convert("12345") == "12345"
    with pytest.raises(ValueError, match="longer than max_length=5"):
        t.convert("123456")
    with pytest.raises(TypeError, match="expected a str"):
        t.convert(5)
    with pytest.raises(ValueError):
        ui.text("too long", max_length=3)

    area = ui.text_area("a\nb", rows=6)
    spec = assert_wire_safe(area)
    assert spec["kind"] == "text_area" and spec["props"]["rows"] == 6
    assert area.convert("x\ny\nz") == "x\ny\nz"
    with pytest.raises(TypeError):
        area.convert(None)
    with pytest.raises(ValueError):
        ui.text_area(rows=0)


def test_checkbox() -> None:
    c = ui.checkbox(True, label="on")
    assert assert_wire_safe(c)["value"] is True
    assert c.convert(False) is False
    for bad in (0, 1, "true", None):
        with pytest.raises(TypeError, match="expected a bool"):
            c.convert(bad)
    with pytest.raises(TypeError):
        ui.checkbox(1)  # type: ignore[arg-type]


def test_dropdown_and_radio_map_labels_to_values() -> None:
    d = ui.dropdown({"Small": 1, "Large": 10}, value="Large", label="size")
    spec = assert_wire_safe(d)
    assert spec["props"]["options"] == ["Small", "Large"] and spec["value"] == "Large"
    assert d.value == 10
    assert d.convert("Small") == 1 and d.convert(None) is None
    with pytest.raises(ValueError, match="not one of the options"):
        d.convert("Medium")
    with pytest.raises(TypeError):
        d.convert(1)
    d.value = 1  # Python side: the option's value ...
    assert d.value == 1 and d.wire_value() == "Small"
    d.value = "Large"  # ... or, failing that, its label
    assert d.value == 10
    with pytest.raises(ValueError):
        d.value = 99
    assert d.value == 10

    plain = ui.dropdown(["a", "b"])
    assert plain.value is None and plain.wire_value() is None and plain.convert("b") == "b"
    numbers = ui.dropdown([1, 2, 3], value=2)  # non-str labels keep their values
    assert numbers.props["options"] == ["1", "2", "3"] and numbers.value == 2 and numbers.convert("3") == 3
    with pytest.raises(ValueError, match="duplicate option label"):
        ui.dropdown({"a": 1, 1: 2, "1": 3})
    with pytest.raises(TypeError):
        ui.dropdown("abc")
    with pytest.raises(ValueError):
        ui.dropdown(["a"], value="z")

    r = ui.radio({"yes": True, "no": False}, value="no", inline=True)
    spec = assert_wire_safe(r)
    assert spec["kind"] == "radio" and spec["props"]["inline"] is True and spec["value"] == "no"
    assert r.value is False and r.convert("yes") is True


def test_button_values() -> None:
    counter = ui.button(label="go")
    assert assert_wire_safe(counter)["value"] == 0
    assert counter.convert({"clicks": 3}) == 1  # any payload is one click
    adder = ui.button(value=5, on_click=lambda v: v * 2)
    assert adder.convert(None) == 10
    opaque = ui.button(value=[1], on_click=lambda v: [*v, 1])
    assert opaque.wire_value() is None  # not a JSON scalar: the page does not need it
    failing = ui.button(value=0, on_click=lambda v: 1 / v)
    with pytest.raises(ValueError, match="on_click raised ZeroDivisionError"):
        failing.convert(1)
    with pytest.raises(TypeError):
        ui.button(value="x")
    with pytest.raises(TypeError):
        ui.button(on_click=3)  # type: ignore[arg-type]


def test_date_converts_iso_strings() -> None:
    d = ui.date("2024-02-10", start=datetime.date(2024, 1, 1), stop="2024-12-31", label="day")
    spec = assert_wire_safe(d)
    assert spec["props"] == {"label": "day", "start": "2024-01-01", "stop": "2024-12-31"}
    assert spec["value"] == "2024-02-10" and d.value == datetime.date(2024, 2, 10)
    assert d.convert("2024-03-01") == datetime.date(2024, 3, 1)
    for bad, exc in [("2025-01-01", ValueError), ("2023-12-31", ValueError), ("10/02/2024", ValueError),
                     (20240210, TypeError), (None, TypeError)]:
        with pytest.raises(exc):
            d.convert(bad)
    d.value = datetime.datetime(2024, 5, 6, 7, 8)
    assert d.value == datetime.date(2024, 5, 6) and d.wire_value() == "2024-05-06"
    with pytest.raises(ValueError):
        ui.date("2024-01-01", start="2024-06-01", stop="2024-01-01")
    today = ui.date()
    assert today.value == datetime.date.today()
    assert ui.date(stop="2000-01-01").value == datetime.date(2000, 1, 1)


def test_file_upload_values() -> None:
    f = ui.file(accept=[".csv", "image/*"], multiple=True, max_size=10, label="data")
    spec = assert_wire_safe(f)
    assert spec["props"] == {"label": "data", "accept": [".csv", "image/*"], "multiple": True, "max_size": 10}
    assert f.value == []
    got = f.convert([
        {"name": "a.CSV", "contents": b"x,y\n", "type": "text/csv"},
        {"name": "pic", "contents": bytearray(b"\x89PNG"), "type": "image/png"},
    ])
    assert [(u.name, u.contents, u.mimetype, u.size) for u in got] == [
        ("a.CSV", b"x,y\n", "text/csv", 4), ("pic", b"\x89PNG", "image/png", 4)
    ]
    assert isinstance(got[1].contents, bytes)
    f.value = got
    assert f.wire_value() == [{"name": "a.CSV", "type": "text/csv", "size": 4},
                              {"name": "pic", "type": "image/png", "size": 4}]
    for bad, exc in [
        ({"name": "a.csv"}, TypeError),
        ([{"name": "a.csv", "contents": "text"}], TypeError),
        ([{"name": 3, "contents": b""}], TypeError),
        ([{"name": "a.txt", "contents": b"", "type": "text/plain"}], ValueError),
        ([{"name": "big.csv", "contents": b"x" * 11}], ValueError),
    ]:
        with pytest.raises(exc):
            f.convert(bad)
    single = ui.file()
    assert single.convert([{"name": "any", "contents": b""}]) == [ui.UploadedFile("any", b"", "")]
    with pytest.raises(ValueError, match="single-file"):
        single.convert([{"name": "a", "contents": b""}, {"name": "b", "contents": b""}])


def test_table_rows_props_and_selection() -> None:
    marker = object()
    rows = [{"a": 1, "b": "x"}, {"a": 2.5, "b": marker}, {"a": math.nan, "c": [1, 2]}]
    t = ui.table(rows, label="people")
    spec = assert_wire_safe(t)
    assert spec["props"]["columns"] == ["a", "b", "c"]
    assert spec["props"]["rows"] == [[1, "x", None], [2.5, repr(marker), None], ["nan", None, "[1, 2]"]]
    assert spec["props"]["selection"] == "multi" and spec["value"] == []
    chosen = t.convert([2, 0])
    assert chosen == [rows[2], rows[0]] and chosen[1] is rows[0] and chosen.indices == [2, 0]
    for bad, exc in [([3], ValueError), ([-1], ValueError), ([0, 0], ValueError), (["0"], TypeError),
                     ([True], TypeError), (0, TypeError)]:
        with pytest.raises(exc):
            t.convert(bad)
    t.value = [rows[1]]
    assert t.value.indices == [1] and t.wire_value() == [1]

    columns = ui.table({"name": ["Ada", "Alan"], "born": [1815, 1912]}, selection="single")
    assert columns.props["rows"] == [["Ada", 1815], ["Alan", 1912]]
    assert columns.convert([1]) == [{"name": "Alan", "born": 1912}]
    with pytest.raises(ValueError, match="single-selection"):
        columns.convert([0, 1])
    fixed = ui.table([10, 20], selection=None)
    assert fixed.props["columns"] == ["value"] and fixed.props["rows"] == [[10], [20]]
    assert fixed.convert([]) == []
    with pytest.raises(ValueError, match="does not allow selecting"):
        fixed.convert([0])
    with pytest.raises(ValueError, match="different lengths"):
        ui.table({"a": [1], "b": [1, 2]})
    with pytest.raises(TypeError):
        ui.table([{"a": 1}, 2])
    with pytest.raises(ValueError):
        ui.table([], selection="some")  # type: ignore[arg-type]


def test_form_values_and_validation() -> None:
    name, age = ui.text(max_length=10), ui.number(0, 120)
    f = ui.form({"name": name, "age": age}, submit_label="Send")
    spec = assert_wire_safe(f)
    assert spec["value"] is None and f.value is None
    children = spec["props"]["children"]
    assert [(c["key"], c["kind"], c["id"]) for c in children] == [
        ("name", "text", name.element_id), ("age", "number", age.element_id)
    ]
    assert children[1]["props"] == {"label": "", "start": 0, "stop": 120, "step": None}
    assert name.parent is f and age.parent is f
    submitted = f.convert({"name": "Ada", "age": 36.0})
    assert submitted == {"name": "Ada", "age": 36} and f.value is None  # convert changes nothing
    f._set_from_frontend(submitted)
    assert f.value == {"name": "Ada", "age": 36} and (name.value, age.value) == ("Ada", 36)
    assert f.wire_value() == {"name": "Ada", "age": 36}
    assert f.convert({"age": 1}) == {"name": "Ada", "age": 1}  # missing fields keep their value
    with pytest.raises(ValueError, match="field 'age' \\(number\\)"):
        f.convert({"age": 500})
    with pytest.raises(TypeError, match="field 'name'"):
        f.convert({"name": 5})
    with pytest.raises(ValueError, match="unknown form fields"):
        f.convert({"nick": "x"})
    with pytest.raises(TypeError):
        f.convert("Ada")

    one = ui.form(ui.slider(0, 10))
    assert one.convert(3) == 3
    one.value = 4
    assert one.value == 4 and one.children[None].value == 4 and one.wire_value() == 4
    with pytest.raises(ValueError, match="already belongs to a form"):
        ui.form(name)
    for bad in (ui.button(), ui.progress(3), one, 5):
        with pytest.raises(TypeError):
            ui.form({"x": bad})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        ui.form({})


def test_progress_bar_is_read_only_and_iterates() -> None:
    bar = ui.progress(4, label="steps")
    assert assert_wire_safe(bar)["props"] == {"label": "steps", "total": 4}
    bar.update()
    bar.update(2)
    assert bar.value == 3
    with pytest.raises(TypeError, match="read-only"):
        bar.convert(1)
    with pytest.raises(ValueError):
        bar.update(math.nan)
    bar.value = 4
    assert bar.value == 4 and bar._final_sent
    bar.value = 0  # reset: reaching the total again is a new final value
    assert not bar._final_sent
    wrapped = ui.progress(x * x for x in range(3))
    assert wrapped.total is None and list(wrapped) == [0, 1, 4] and wrapped.value == 3
    sized = ui.progress(range(5))
    assert sized.total == 5 and sum(sized) == 10 and sized.value == 5
    with pytest.raises(TypeError, match="wraps no iterable"):
        iter(bar)
    with pytest.raises(ValueError):
        ui.progress(-1)
    with pytest.raises(TypeError):
        ui.progress(3, length=3)


def test_args_key_is_stable_for_equal_arguments() -> None:
    def make() -> list[ui.UIElement]:
        return [
            ui.slider(0, 10), ui.number(0, 5, value=2), ui.text("a", max_length=3), ui.checkbox(True),
            ui.dropdown({"a": [1], "b": [2]}, value="b"), ui.radio(["x", "y"]),
            ui.button(value=1, on_click=lambda v: v + 1), ui.date(), ui.file(accept=".csv"),
            ui.table({"a": [1, 2]}), ui.form({"t": ui.text()}), ui.progress(10),
        ]

    for a, b in zip(make(), make()):
        assert a.args_key == b.args_key, a.kind
    assert ui.dropdown({"a": 1}).args_key != ui.dropdown({"a": 2}).args_key  # values matter
    assert ui.button(value=1, on_click=lambda v: v + 1).args_key != ui.button(value=1, on_click=lambda v: v + 2).args_key
    assert ui.slider(0, 10).args_key != ui.slider(0, 11).args_key


# ------------------------------------------------------------------------ through a kernel

SLIDER = {"s": IMPORT + "s = ui.slider(0, 10, label='n')\ns", "d": "doubled = s.value * 2\ndoubled"}


async def test_slider_drives_dependent_cell(harness: KernelHarness) -> None:
    notes = await harness.execute(SLIDER)
    spec = spec_of(notes, "s")
    element_id = spec["id"]
    assert spec["kind"] == "slider" and spec["value"] == 0 and element_id == "s/0"
    assert harness.kernel is not None and element_id in harness.kernel.extensions["ui"].elements
    notes = await update(harness, {element_id: 7})
    assert ran(notes) == ["d"]
    assert outputs(notes, "d") == ["14"] and g(harness, "doubled") == 14 and g(harness, "s").value == 7


async def test_queued_updates_merge_and_end_on_last_value(harness: KernelHarness) -> None:
    await harness.execute(SLIDER)
    mark = harness.mark()
    for v in range(1, 11):
        harness.send(protocol.UpdateUIElement(values={"s/0": v}))
    notes = await settle(harness, mark)
    runs_of_d = ran(notes).count("d")
    assert 1 <= runs_of_d <= 2
    assert g(harness, "doubled") == 20 and outputs(notes, "d")[-1] == "20"


async def test_id_and_value_survive_rerun_until_arguments_change(harness: KernelHarness) -> None:
    await harness.execute(SLIDER)
    await update(harness, {"s/0": 7})
    notes = await harness.execute({"s": SLIDER["s"]})
    spec = spec_of(notes, "s")
    assert (spec["id"], spec["value"]) == ("s/0", 7)  # same id, the reader's value kept
    assert outputs(notes, "d") == ["14"]
    notes = await harness.execute({"s": IMPORT + "s = ui.slider(0, 20, label='n')\ns"})
    spec = spec_of(notes, "s")
    assert (spec["id"], spec["value"]) == ("s/0", 0)  # new arguments: back to the initial value
    assert g(harness, "doubled") == 0


async def test_every_kind_keeps_its_value_across_reruns(harness: KernelHarness) -> None:
    code = IMPORT + (
        "els = dict(\n"
        "    n=ui.number(0, 10), t=ui.text(), c=ui.checkbox(), dd=ui.dropdown({'a': [1], 'b': [2]}),\n"
        "    r=ui.radio(['x', 'y']), b=ui.button(value=0, on_click=lambda v: v + 5), dt=ui.date('2024-01-01'),\n"
        "    f=ui.file(), tb=ui.table([{'k': 1}, {'k': 2}]),\n"
        ")\n"
        "ids = {k: e.element_id for k, e in els.items()}"
    )
    await harness.execute({"all": code})
    ids = dict(g(harness, "ids"))
    raw = {"n": 3, "t": "hey", "c": True, "dd": "b", "r": "y", "b": 1, "dt": "2024-06-30",
           "f": [{"name": "a.txt", "contents": b"abc", "type": "text/plain"}], "tb": [1]}
    mark = harness.mark()
    harness.send(protocol.UpdateUIElement(values={ids[k]: v for k, v in raw.items()}))
    notes = await settle(harness, mark)
    assert not kernel_errors(notes)
    expected = {"n": 3, "t": "hey", "c": True, "dd": [2], "r": "y", "b": 5,
                "dt": datetime.date(2024, 6, 30), "f": [ui.UploadedFile("a.txt", b"abc", "text/plain")],
                "tb": [{"k": 2}]}
    assert {k: e.value for k, e in g(harness, "els").items()} == expected
    await harness.execute({"all": code})
    assert g(harness, "ids") == ids
    assert {k: e.value for k, e in g(harness, "els").items()} == expected
    assert g(harness, "els")["tb"].value.indices == [1]


async def test_kernel_side_assignment_notifies_the_page(harness: KernelHarness) -> None:
    await harness.execute(SLIDER)
    notes = await harness.execute({"set": "s.value = 4"})
    assert value_notes(notes, "s/0") == [4]
    assert g(harness, "s").value == 4
    notes = await harness.execute({"set": "s.value = 40"})
    (err,) = errors(notes, "set")
    assert err.ename == "ValueError" and "outside" in err.evalue
    assert value_notes(notes, "s/0") == [] and g(harness, "s").value == 4
    notes = await harness.execute({"dd": IMPORT + "pick = ui.dropdown({'one': 1, 'two': 2})\npick.value = 2"})
    assert value_notes(notes, "dd/0") == ["two"]  # the wire form: the label


async def test_unknown_element_id_changes_nothing(harness: KernelHarness) -> None:
    await harness.execute(SLIDER)
    mark = harness.mark()
    harness.send(protocol.UpdateUIElement(values={"s/0": 5, "nope/9": 1}))
    notes = await settle(harness, mark)
    (err,) = kernel_errors(notes)
    assert "nope/9" in err.message and "LookupError" in err.message
    assert ran(notes) == ["marker"]  # no cell ran but the marker: the kernel keeps serving
    assert g(harness, "s").value == 0 and g(harness, "doubled") == 0


async def test_wrong_type_value_changes_nothing(harness: KernelHarness) -> None:
    await harness.execute({**SLIDER, "t": "name = ui.text(max_length=3)", "r": "greeting = name.value"})
    mark = harness.mark()
    harness.send(protocol.UpdateUIElement(values={"s/0": 5, "t/0": 12}))
    notes = await settle(harness, mark)
    (err,) = kernel_errors(notes)
    assert "'t/0' (text)" in err.message and "expected a str" in err.message
    assert ran(notes) == ["marker"]
    assert g(harness, "s").value == 0 and g(harness, "name").value == ""
    mark = harness.mark()
    harness.send(protocol.UpdateUIElement(values={"t/0": "long"}))
    notes = await settle(harness, mark)
    assert "max_length=3" in kernel_errors(notes)[0].message and ran(notes) == ["marker"]
    notes = await update(harness, {"t/0": "abc"})
    assert ran(notes) == ["r"] and g(harness, "greeting") == "abc"


async def test_button_clicks(harness: KernelHarness) -> None:
    await harness.execute({
        "b": IMPORT + "add = ui.button(value=0, on_click=lambda v: v + 10, label='add')\ncount = ui.button(label='n')",
        "r": "total = add.value",
        "c": "clicks = count.value",
        "bad": "boom = ui.button(value=0, on_click=lambda v: 1 / v)",
        "rb": "boom.value",
    })
    notes = await update(harness, {"b/0": 1})
    assert ran(notes) == ["r"] and g(harness, "total") == 10
    await update(harness, {"b/0": {"click": 2}})
    assert g(harness, "total") == 20
    for _ in range(2):
        notes = await update(harness, {"b/1": None})
    assert ran(notes) == ["c"] and g(harness, "clicks") == 2
    mark = harness.mark()
    harness.send(protocol.UpdateUIElement(values={"bad/0": 1}))
    notes = await settle(harness, mark)
    (err,) = kernel_errors(notes)
    assert "'bad/0' (button)" in err.message and "ZeroDivisionError" in err.message
    assert ran(notes) == ["marker"] and g(harness, "boom").value == 0


async def test_form_batches_until_submission(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "f": IMPORT + "f = ui.form({'name': ui.text(), 'age': ui.number(0, 120)})\nf",
        "r": "submitted = f.value",
        "one": "t = ui.text()\nsingle = ui.form(t)",
        "rt": "seen_t = t.value",
        "rs": "seen_single = single.value",
    })
    spec = spec_of(notes, "f")
    assert spec["kind"] == "form" and spec["value"] is None
    name_id, age_id = (c["id"] for c in spec["props"]["children"])
    assert g(harness, "submitted") is None

    mark = harness.mark()  # a child's own update re-runs nothing
    harness.send(protocol.UpdateUIElement(values={name_id: "typing", age_id: 50, "one/0": "draft"}))
    notes = await settle(harness, mark)
    assert not kernel_errors(notes) and ran(notes) == ["marker"]
    assert g(harness, "f").value is None and g(harness, "seen_t") == ""

    notes = await update(harness, {spec["id"]: {"name": "Ada", "age": 36}})
    assert ran(notes) == ["r"] and g(harness, "submitted") == {"name": "Ada", "age": 36}
    notes = await update(harness, {"one/1": "done"})
    assert ran(notes) == ["rs"] and g(harness, "seen_single") == "done" and g(harness, "t").value == "done"

    mark = harness.mark()  # one bad field: nothing changes
    harness.send(protocol.UpdateUIElement(values={spec["id"]: {"name": "Bob", "age": -1}}))
    notes = await settle(harness, mark)
    assert "field 'age'" in kernel_errors(notes)[0].message and ran(notes) == ["marker"]
    assert g(harness, "submitted") == {"name": "Ada", "age": 36}

    notes = await harness.execute({"f": IMPORT + "f = ui.form({'name': ui.text(), 'age': ui.number(0, 120)})\nf"})
    spec = spec_of(notes, "f")  # re-run: the submission and the children's values are kept
    assert spec["value"] == {"name": "Ada", "age": 36}
    assert [c["value"] for c in spec["props"]["children"]] == ["Ada", 36]
    assert g(harness, "submitted") == {"name": "Ada", "age": 36}


async def test_form_child_from_another_cell(harness: KernelHarness) -> None:
    await harness.execute({
        "a": IMPORT + "t = ui.text()",
        "ra": "seen = t.value",
        "b": "f = ui.form(t)",
        "rb": "submitted = f.value",
    })
    mark = harness.mark()  # bound when its own cell ran, but in a form now: re-runs nothing
    harness.send(protocol.UpdateUIElement(values={"a/0": "draft"}))
    notes = await settle(harness, mark)
    assert ran(notes) == ["marker"] and g(harness, "seen") == ""
    notes = await harness.execute({"b": "f = ui.form(t)"})  # re-run: the old form is replaced
    assert errors(notes) == [] and g(harness, "t").parent is g(harness, "f")
    notes = await update(harness, {"b/0": "sent"})
    assert ran(notes) == ["rb"] and g(harness, "submitted") == "sent"
    await harness.request(protocol.DeleteCells(cell_ids=["b"]))
    notes = await update(harness, {"a/0": "free again"})  # no live form: t re-runs its readers
    assert ran(notes) == ["ra"] and g(harness, "seen") == "free again"


async def test_progress_notifications_are_rate_limited(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "p": IMPORT + "import time\nbar = ui.progress(10_000, label='work')\nbar",
        "loop": "for i in range(10_000):\n    bar.update()\n    if i % 1_000 == 0:\n        time.sleep(0.03)",
    })
    sent = value_notes(notes, "p/0")
    assert 2 <= len(sent) <= 30 and sent[-1] == 10_000 and sent == sorted(sent)

    notes = await harness.execute({"it": IMPORT + "acc = 0\nfor x in ui.progress(range(10_000), label='it'):\n    acc += x"})
    spec = spec_of(notes, "it")  # iterating displays the bar
    assert spec["kind"] == "progress" and spec["props"]["total"] == 10_000
    sent = value_notes(notes, spec["id"])
    assert 1 <= len(sent) <= 30 and sent[-1] == 10_000 and g(harness, "acc") == sum(range(10_000))

    notes = await harness.execute({
        "open": IMPORT + "bar2 = ui.progress()\nfor _ in range(777):\n    bar2.update()",
    })
    sent = value_notes(notes, "open/0")  # unknown total: the last value goes out at cell end
    assert 1 <= len(sent) <= 30 and sent[-1] == 777
    status_done = [i for i, n in enumerate(notes) if isinstance(n, protocol.CellStatus) and n.cell_id == "open" and n.status == "idle"]
    last_value = max(i for i, n in enumerate(notes) if isinstance(n, protocol.UIElementValue))
    assert last_value < status_done[-1]

    mark = harness.mark()
    harness.send(protocol.UpdateUIElement(values={"p/0": 5}))
    notes = await settle(harness, mark)
    assert "read-only" in kernel_errors(notes)[0].message and g(harness, "bar").value == 10_000
    notes = await harness.execute({"p": IMPORT + "import time\nbar = ui.progress(10_000, label='work')\nbar"})
    assert spec_of(notes, "p")["value"] == 0  # a re-run restarts the bar


async def test_file_upload_bytes_through_msgpack(harness: KernelHarness) -> None:
    await harness.execute({
        "u": IMPORT + "up = ui.file(accept=['.csv'], multiple=True)",
        "r": "got = [(f.name, f.contents, f.mimetype, f.size) for f in up.value]",
    })
    payload = bytes(range(256)) * 40
    mark = harness.mark()
    harness.send_frame(protocol.encode(protocol.UpdateUIElement(values={"u/0": [
        {"name": "a.csv", "contents": payload, "type": "text/csv"},
        {"name": "b.csv", "contents": b""},
    ]})))
    notes = await settle(harness, mark)
    assert "r" in ran(notes)
    assert g(harness, "got") == [("a.csv", payload, "text/csv", 10_240), ("b.csv", b"", "", 0)]
    mark = harness.mark()
    harness.send(protocol.UpdateUIElement(values={"u/0": [{"name": "x.exe", "contents": b"MZ"}]}))
    notes = await settle(harness, mark)
    assert "'x.exe'" in kernel_errors(notes)[0].message and ran(notes) == ["marker"]
    assert len(g(harness, "got")) == 2


async def test_table_selection(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "t": IMPORT + "t = ui.table([{'name': 'Ada', 'born': 1815}, {'name': 'Alan', 'born': 1912},"
        " {'name': 'Grace', 'born': 1906}])\nt",
        "r": "picked = [row['name'] for row in t.value]",
    })
    spec = spec_of(notes, "t")
    assert spec["props"]["columns"] == ["name", "born"] and spec["props"]["rows"][1] == ["Alan", 1912]
    notes = await update(harness, {spec["id"]: [2, 0]})
    assert ran(notes) == ["r"] and g(harness, "picked") == ["Grace", "Ada"]
    mark = harness.mark()
    harness.send(protocol.UpdateUIElement(values={spec["id"]: [7]}))
    notes = await settle(harness, mark)
    assert "out of range" in kernel_errors(notes)[0].message and g(harness, "picked") == ["Grace", "Ada"]


async def test_date_and_dropdown_conversion(harness: KernelHarness) -> None:
    await harness.execute({
        "d": IMPORT + "import datetime\nday = ui.date('2024-01-15', start='2024-01-01', stop='2024-12-31')",
        "r": "chosen = day.value\nis_date = isinstance(chosen, datetime.date)",
        "dd": "size = ui.dropdown({'Small': 1, 'Large': 10}, value='Small')",
        "rd": "scaled = size.value * 3",
    })
    notes = await update(harness, {"d/0": "2024-03-01"})
    assert ran(notes) == ["r"] and g(harness, "chosen") == datetime.date(2024, 3, 1) and g(harness, "is_date")
    notes = await update(harness, {"dd/0": "Large"})
    assert ran(notes) == ["rd"] and g(harness, "scaled") == 30
    mark = harness.mark()
    harness.send(protocol.UpdateUIElement(values={"d/0": "2025-01-01"}))
    notes = await settle(harness, mark)
    assert "after the last allowed date" in kernel_errors(notes)[0].message
    assert g(harness, "chosen") == datetime.date(2024, 3, 1)


async def test_deleted_cell_elements_are_gone(harness: KernelHarness) -> None:
    await harness.execute(SLIDER)
    await harness.request(protocol.DeleteCells(cell_ids=["s"]))
    mark = harness.mark()
    harness.send(protocol.UpdateUIElement(values={"s/0": 3}))
    notes = await settle(harness, mark)
    assert "s/0" in kernel_errors(notes)[0].message and ran(notes) == ["marker"]
