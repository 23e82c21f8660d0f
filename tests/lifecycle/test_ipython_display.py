"""IPython's display API, the display protocol hooks, Altair and Plotly through real kernels.

Real IPython, Altair and Plotly (pinned in requirements-dev.txt), real kernels: the
``harness`` fixture (both queue readers), run-mode kernel threads
(:class:`subprocess_host.thread_kernel.ThreadKernel`), fresh interpreters (``python -c``) for
what depends on the process's first imports, and ``amphi execute`` for the ``.ipynb`` written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from lifecycle import protocol
from lifecycle.kernel_lifecycle import KernelArgs
from lifecycle.outputs import OutputCollector
from tests.lifecycle.harness import KernelHarness, errors, run_in_thread_kernels, statuses

pytest.importorskip("IPython")
pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + (3).to_bytes(4, "big") + (2).to_bytes(4, "big") + bytes(9)


def cell_outputs(notes: list[Any], cell_id: str) -> list[protocol.CellOutput]:
    return [n for n in notes if isinstance(n, protocol.CellOutput) and n.cell_id == cell_id]


def of_type(notes: list[Any], kind: type) -> list[Any]:
    return [n for n in notes if isinstance(n, kind)]


def collected(notes: list[Any]) -> OutputCollector:
    """What ``amphi execute`` and the server's saved notebook make of these notifications."""
    collector = OutputCollector()
    for note in notes:
        collector.add(note)
    return collector


# ------------------------------------------------------------------------ display objects


async def test_display_objects_give_jupyters_mimebundles(harness: KernelHarness, tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(PNG)
    notes = await harness.execute({"a": f"""
from IPython.display import (display, Markdown, HTML, Image, SVG, JSON, Latex, Math, Javascript,
                             IFrame, Audio, Video)
display(Markdown("**x**"))
display(HTML("<b>h</b>"), Latex(r"$\\alpha$"), Math("x^2"))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'))
display(JSON({{"a": [1, 2]}}))
display(Javascript("window.__ran = 1"))
display(Image({PNG!r}), Image({PNG!r}, width=30, height=20), Image(filename={str(tmp_path / "x.png")!r}))
display(Image(url="https://example.org/a.png", width=5))
display(IFrame("https://example.org", 300, 200))
display(Audio(url="https://example.org/a.wav"), Video("https://example.org/v.mp4"))
display(Video(b"\\x00\\x00\\x00 ftyp", embed=True, mimetype="video/mp4"))
"""})
    assert not errors(notes) and not of_type(notes, protocol.CellConsole)
    out = cell_outputs(notes, "a")
    data = [{k: v for k, v in o.data.items() if k != "text/plain"} for o in out]
    plain = [o.data["text/plain"] for o in out]
    assert plain[0] == "<IPython.core.display.Markdown object>"  # not printed: an output
    assert data[:5] == [
        {"text/markdown": "**x**"}, {"text/html": "<b>h</b>"}, {"text/latex": "$\\alpha$"},
        {"text/latex": "$\\displaystyle x^2$"},
        {"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'},
    ]
    assert data[5] == {"application/json": {"a": [1, 2]}}
    assert out[5].metadata == {"application/json": {"expanded": False, "root": "root"}}
    assert data[6] == {"application/javascript": "window.__ran = 1"}
    assert data[7] == data[8] == data[9] == {"image/png": PNG}  # bytes, never base64
    assert out[7].metadata == {} and out[8].metadata == {"image/png": {"width": 30, "height": 20}}
    assert data[10] == {"text/html": '<img src="https://example.org/a.png" width="5"/>'}
    assert 'src="https://example.org"' in data[11]["text/html"] and "<iframe" in data[11]["text/html"]
    assert "<audio" in data[12]["text/html"] and 'src="https://example.org/a.wav"' in data[12]["text/html"]
    assert '<video src="https://example.org/v.mp4"' in data[13]["text/html"]
    assert "data:video/mp4;base64,AAAAIGZ0eXA=" in data[14]["text/html"]
    assert len(out) == 15 and all(o.kind == "display" and o.display_id is None for o in out)


async def test_display_functions_raw_include_exclude_metadata(harness: KernelHarness) -> None:
    notes = await harness.execute({"a": """
from IPython.display import display, display_html, display_png, publish_display_data, GeoJSON
class Both:
    def _repr_html_(self): return "<i>h</i>"
    def _repr_markdown_(self): return "*m*"
    def __repr__(self): return "Both()"
display({"text/plain": "raw", "application/vnd.custom+json": {"k": 1}}, raw=True)
display(Both(), include=["text/markdown"])
display(Both(), exclude=["text/html"])
display(Both(), include=["image/png"])  # nothing of it is wanted: no output
display(Both(), metadata={"text/html": {"isolated": True}, "tag": 1})
display_html("<p>raw html</p>", raw=True)
display_png(b"\\x89PNG\\r\\n\\x1a\\nrest", raw=True)
publish_display_data({"text/plain": "published"}, {"m": 2})
GeoJSON({"type": "Point", "coordinates": [0, 0]})
"""})
    assert not errors(notes)
    out = cell_outputs(notes, "a")
    assert [o.data for o in out[:3]] == [
        {"text/plain": "raw", "application/vnd.custom+json": {"k": 1}},
        {"text/markdown": "*m*"},
        {"text/markdown": "*m*", "text/plain": "Both()"},
    ]
    assert out[3].data == {"text/html": "<i>h</i>", "text/markdown": "*m*", "text/plain": "Both()"}
    assert out[3].metadata == {"text/html": {"isolated": True}, "tag": 1}
    assert out[4].data == {"text/html": "<p>raw html</p>"}
    assert out[5].data == {"image/png": b"\x89PNG\r\n\x1a\nrest"}
    assert (out[6].data, out[6].metadata) == ({"text/plain": "published"}, {"m": 2})
    assert out[7].data["application/geo+json"] == {"type": "Point", "coordinates": [0, 0]}  # _ipython_display_
    assert len(out) == 8


# ------------------------------------------------------------------- display ids, clearing


async def test_display_handles_and_update_display_across_cells(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": """
from IPython.display import display, update_display, DisplayHandle, Markdown
h = display(Markdown("one"), display_id=True)
named = display("first", display_id="named")
empty = display(display_id="later")
h.update(Markdown("two"))
h.display(Markdown("three"))
print(type(h) is DisplayHandle, len(h.display_id), named.display_id, display("no id") is None)
""",
        "b": "update_display('second', display_id='named')\nempty.update(Markdown('filled'))\nh.update(Markdown('four'))",
    })
    assert not errors(notes)
    shown = cell_outputs(notes, "a")
    handle_id = shown[0].display_id
    assert handle_id is not None and re.fullmatch(r"[0-9a-f]{32}", handle_id)
    assert [(o.data.get("text/markdown", o.data.get("text/plain")), o.display_id) for o in shown] == [
        ("one", handle_id), ("'first'", "named"), ("", "later"), ("three", handle_id), ("'no id'", None),
    ]
    updates = [(u.display_id, u.cell_id, u.data.get("text/markdown", u.data.get("text/plain"))) for u in of_type(notes, protocol.UpdateDisplay)]
    assert updates == [
        (handle_id, "a", "two"), ("named", "b", "'second'"), ("later", "b", "filled"), (handle_id, "b", "four"),
    ]
    # amphi execute / saved notebooks: updated in place, in the cell that showed them
    cells = collected(notes).cells
    texts = [o["data"].get("text/markdown", o["data"].get("text/plain")) for o in cells["a"].outputs if o["output_type"] == "display_data"]
    assert texts == ["four", "'second'", "filled", "four", "'no id'"]
    assert all("display_id" not in o and "transient" not in o for o in cells["a"].outputs)


async def test_update_display_needs_an_id_and_progress_bar_updates(harness: KernelHarness) -> None:
    notes = await harness.execute({"a": """
from IPython.display import display, ProgressBar
pb = ProgressBar(3)
for _ in pb:
    pass
display("x", update=True)
"""})
    [error] = errors(notes, "a")
    assert (error.ename, error.evalue, error.fatal) == ("TypeError", "display_id required for update_display", True)
    [bar] = cell_outputs(notes, "a")
    assert bar.display_id and "<progress" in bar.data["text/html"]
    updates = of_type(notes, protocol.UpdateDisplay)
    assert updates and {u.display_id for u in updates} == {bar.display_id}
    assert "value='3'" in updates[-1].data["text/html"]


async def test_clear_output_now_and_on_next_output() -> None:
    h = await KernelHarness("asyncio", KernelArgs(console="replace")).start()
    try:
        notes = await h.execute({"a": """
from IPython.display import display, clear_output
print("before")
display("shown")
clear_output()
display("kept 1")
clear_output(wait=True)
print("after wait")
display("kept 2")
display("gone", clear=True)
"""})
    finally:
        await h.stop()
    assert not errors(notes)
    events: list[tuple[str, Any]] = []
    for n in notes:
        if isinstance(n, protocol.ClearOutput):
            events.append(("clear", n.wait))
        elif isinstance(n, protocol.CellOutput):
            events.append(("out", n.data["text/plain"]))
        elif isinstance(n, protocol.CellConsole):  # chunks of one print may come apart
            if events and events[-1][0] == "print":
                events[-1] = ("print", events[-1][1] + n.text)
            else:
                events.append(("print", n.text))
    assert events == [  # printed text is flushed before a clear, so it is cleared too
        ("print", "before\n"), ("out", "'shown'"), ("clear", False), ("out", "'kept 1'"), ("clear", True),
        ("print", "after wait\n"), ("out", "'kept 2'"), ("clear", True), ("out", "'gone'"),
    ]
    outputs = collected(notes).cells["a"].outputs
    assert [o.get("text") or o["data"]["text/plain"] for o in outputs] == ["'gone'"]
    partial = collected(notes[: notes.index(next(n for n in notes if isinstance(n, protocol.ClearOutput) and n.wait)) + 1])
    assert [o["data"]["text/plain"] for o in partial.cells["a"].outputs] == ["'kept 1'"]  # wait: kept until more


# ---------------------------------------------------------------------- repr protocol hooks


async def test_repr_hooks_on_results_and_display(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": """
class Everything:
    def _repr_latex_(self): return "$x$"
    def _repr_jpeg_(self): return b"\\xff\\xd8\\xffjpeg"
    def _repr_svg_(self): return "<svg/>"
    def _repr_json_(self): return {"j": 1}, {"expanded": True}
    def _repr_markdown_(self): return "md"
    def _repr_pdf_(self): return b"%PDF-1.4"
    def _repr_javascript_(self): return "1;"
    def _repr_png_(self): raise NotImplementedError  # skipped silently, as in IPython
Everything()
""",
        "b": """
class Bundle:
    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": f"<p>{include}|{exclude}</p>", "text/plain": "B"}, {"text/html": {"isolated": True}}
    def _repr_html_(self): return "not used"
display(Bundle(), exclude=["text/latex"])
Bundle()
""",
        "c": """
class ShowsItself:
    def _ipython_display_(self):
        display("from _ipython_display_")
    def _repr_html_(self): return "not used"
display(ShowsItself())
ShowsItself()
""",
    })
    assert not errors(notes) and not of_type(notes, protocol.CellConsole)
    [every] = cell_outputs(notes, "a")
    assert every.kind == "result" and every.data == {
        "text/latex": "$x$", "image/jpeg": b"\xff\xd8\xffjpeg", "image/svg+xml": "<svg/>", "application/json": {"j": 1},
        "text/markdown": "md", "application/pdf": b"%PDF-1.4", "application/javascript": "1;", "text/plain": every.data["text/plain"],
    }
    assert every.metadata == {"application/json": {"expanded": True}}
    shown, result = cell_outputs(notes, "b")
    assert shown.data == {"text/html": "<p>None|['text/latex']</p>", "text/plain": "B"}
    assert result.data["text/html"] == "<p>None|None</p>" and result.metadata == {"text/html": {"isolated": True}}
    assert [(o.kind, o.data) for o in cell_outputs(notes, "c")] == [("display", {"text/plain": "'from _ipython_display_'"})] * 2


async def test_an_exception_in_a_repr_method_is_shown_as_jupyter_does(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": """
class Bad:
    def _repr_html_(self):
        raise RuntimeError("no html")
    def _repr_markdown_(self):
        return "still *markdown*"
    def __repr__(self):
        return "Bad()"
bad = Bad()
bad
""",
        "b": "display(bad)\nafter = 1",
        "c": "after + 1",
    })
    [error] = errors(notes, "a")
    assert (error.ename, error.evalue, error.fatal) == ("RuntimeError", "no html", False)
    assert error.traceback.splitlines()[-1] == "RuntimeError: no html" and "in _repr_html_" in error.traceback
    assert [(f.name, f.cell_id) for f in error.frames] == [("_repr_html_", "a")]  # no runtime frames
    a_notes = [n for n in notes if getattr(n, "cell_id", None) == "a" and isinstance(n, (protocol.CellError, protocol.CellOutput))]
    assert [type(n).__name__ for n in a_notes] == ["CellError", "CellOutput"]  # traceback first, then the output
    assert a_notes[1].data == {"text/markdown": "still *markdown*", "text/plain": "Bad()"}
    assert len(errors(notes, "b")) == 1 and [o.data["text/plain"] for o in cell_outputs(notes, "c")] == ["2"]
    assert statuses(notes, "a")[-1] == "idle"
    assert not any(rec.errored for rec in collected(notes).cells.values())  # the cells did not fail


async def test_repr_tracebacks_are_redacted_in_run_mode() -> None:
    h = await KernelHarness("asyncio", KernelArgs(mode="run")).start()
    try:
        notes = await h.execute({"a": "class Bad:\n    def _repr_html_(self):\n        raise ValueError('secret')\nBad()"})
    finally:
        await h.stop()
    [error] = errors(notes)
    assert error.traceback == "ValueError: secret" and not error.fatal
    assert all(frame.line == "" for frame in error.frames)


# ------------------------------------------------------------------ outside cells, isolation


async def test_outside_kernel_cells_ipython_behaves_as_without_us(
    harness: KernelHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    await harness.execute({"a": "import IPython.display"})
    import IPython.display

    assert IPython.display.display.__amphi_original__ is not None  # type: ignore[attr-defined]
    IPython.display.display("printed, as IPython does without a shell")
    assert capsys.readouterr().out == "printed, as IPython does without a shell\n"


async def test_kernel_threads_get_only_their_own_outputs() -> None:
    """Two run-mode kernels (threads of this process) display and update in lockstep."""
    cell = """
import _amphi_ipy_sync
from IPython.display import display, clear_output, Markdown
handle = display(Markdown(SESSION + " start"), display_id=SESSION + "-bar")
for i in range(20):
    _amphi_ipy_sync.barrier.wait()
    display(Markdown(f"{SESSION} {i}"))
    handle.update(Markdown(f"{SESSION} step {i}"))
clear_output(wait=True)
display(Markdown(SESSION + " done"))
"""
    notes = await run_in_thread_kernels(cell, "_amphi_ipy_sync")
    for name in notes:
        assert not errors(notes[name]), errors(notes[name])
        shown = [o.data["text/markdown"] for o in cell_outputs(notes[name], "c")]
        assert shown == [f"{name} start", *(f"{name} {i}" for i in range(20)), f"{name} done"]
        updates = of_type(notes[name], protocol.UpdateDisplay)
        assert [(u.display_id, u.data["text/markdown"]) for u in updates] == [(f"{name}-bar", f"{name} step {i}") for i in range(20)]
        assert len(of_type(notes[name], protocol.ClearOutput)) == 1


# ------------------------------------------------------------------------- Altair, Plotly


async def test_altair_chart_is_a_vega_lite_output(harness: KernelHarness) -> None:
    pytest.importorskip("altair")
    notes = await harness.execute({"a": """
import altair as alt
chart = alt.Chart(alt.Data(values=[{"x": 1, "y": 2}, {"x": 2, "y": 3}])).mark_point().encode(x="x:Q", y="y:Q")
print(alt.renderers.active)
chart
"""})
    assert not errors(notes)
    [out] = cell_outputs(notes, "a")
    [mime] = [m for m in out.data if re.fullmatch(r"application/vnd\.vegalite\.v\d+[+.]json", m)]  # Altair 6: "v6.json"
    assert out.data[mime]["mark"]["type"] == "point" and out.data[mime]["data"]["values"][1] == {"x": 2, "y": 3}
    assert "text/html" not in out.data  # no CDN-loading HTML


async def test_plotly_figure_result_and_show_are_plotly_outputs(harness: KernelHarness) -> None:
    pytest.importorskip("plotly")
    notes = await harness.execute({"a": """
import plotly.graph_objects as go, plotly.io as pio
fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
fig
""", "b": "fig.show()\npio.renderers.default"})
    assert not errors(notes)
    figure, shown = cell_outputs(notes, "a") + cell_outputs(notes, "b")[:1]
    for out in (figure, shown):
        assert list(out.data) == ["application/vnd.plotly.v1+json"] and out.kind == "display"
        assert out.data["application/vnd.plotly.v1+json"]["data"][0]["y"] == [3, 4]
    assert cell_outputs(notes, "b")[1].data["text/plain"] == "'plotly_mimetype'"


def run_script(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter at the repository root; its stdout."""
    environment = {**os.environ, **env}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=environment,
        capture_output=True, text=True, timeout=100,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


KERNEL_IN_SCRIPT = """
    import asyncio, sys
    from lifecycle import protocol
    from tests.lifecycle.harness import KernelHarness

    async def main(code):
        h = await KernelHarness("asyncio").start()
        notes = await h.execute({"c": code})
        await h.stop()
        return [[sorted(n.data) for n in notes if isinstance(n, protocol.CellOutput)],
                [n.evalue for n in notes if isinstance(n, protocol.CellError)]]
"""


def test_creating_a_kernel_imports_no_ipython_altair_or_plotly() -> None:
    out = run_script("""
    import sys
    from lifecycle.kernel_lifecycle import KernelArgs, create_kernel, teardown_kernel
    kernel, runtime = create_kernel(KernelArgs(), lambda note: None)
    print(sorted(m for m in sys.modules if m.split(".")[0] in ("IPython", "altair", "plotly", "matplotlib_inline", "nbformat")))
    print("lifecycle.ipython_compat" in sys.modules)
    teardown_kernel(kernel, runtime)
    """)
    assert out.splitlines() == ["[]", "True"]


def test_ipython_imported_before_the_kernel_is_routed_too() -> None:
    out = run_script(KERNEL_IN_SCRIPT + """
    import IPython.display
    print(asyncio.run(main("from IPython.display import display, Markdown\\ndisplay(Markdown('x'))")))
    """)
    assert out.splitlines() == ["[[['text/markdown', 'text/plain']], []]"]


def test_plotly_show_needs_no_ipython_and_plotly_renderer_is_respected() -> None:
    code = "import plotly.graph_objects as go, plotly.io as pio\\nprint(pio.renderers.default)\\ngo.Figure(go.Bar(y=[1])).show()"
    out = run_script(KERNEL_IN_SCRIPT + f"""
    sys.modules["IPython"] = None  # IPython is not installed
    print(asyncio.run(main("{code}")))
    """)
    assert out.splitlines() == ["plotly_mimetype", "[[['application/vnd.plotly.v1+json']], []]"]
    out = run_script(KERNEL_IN_SCRIPT + f"""
    print(asyncio.run(main("{code}")))
    """, PLOTLY_RENDERER="json")
    assert out.splitlines() == ["json", "[[['application/json']], []]"]


async def test_matplotlib_inline_set_matplotlib_formats_sets_the_kernels_formats(harness: KernelHarness) -> None:
    pytest.importorskip("matplotlib_inline")
    notes = await harness.execute({"a": """
from matplotlib_inline.backend_inline import set_matplotlib_formats
import matplotlib.pyplot as plt
set_matplotlib_formats("svg")
plt.plot([1, 2])
plt.show()
"""})
    assert not errors(notes)
    [figure] = cell_outputs(notes, "a")
    assert "image/svg+xml" in figure.data and "image/png" not in figure.data


def test_amphi_execute_writes_updated_displays_and_clears(tmp_path: Path) -> None:
    source = tmp_path / "nb.py"
    source.write_text(textwrap.dedent("""\
        # %%
        from IPython.display import display, clear_output, Markdown
        h = display(Markdown("old"), display_id=True)

        # %%
        print("cleared soon")
        clear_output(wait=True)
        display(Markdown("after clear"))
        h.update(Markdown("new"))
        class Bad:
            def _repr_html_(self):
                raise RuntimeError("no html")
        Bad()
        """))
    out = tmp_path / "nb.ipynb"
    done = subprocess.run(
        [sys.executable, "-m", "subprocess_host.cli", "execute", str(source), "-o", str(out), "--format", "none"],
        cwd=REPO, capture_output=True, text=True, timeout=100,
    )
    assert done.returncode == 0, done.stderr  # an exception in a repr method fails no cell
    first, second = json.loads(out.read_text())["cells"]
    assert [(o["output_type"], o["data"]["text/markdown"]) for o in first["outputs"]] == [("display_data", ["new"])]
    assert [o["output_type"] for o in second["outputs"]] == ["display_data", "error", "execute_result"]
    assert second["outputs"][0]["data"]["text/markdown"] == ["after clear"]
    assert second["outputs"][1]["ename"] == "RuntimeError"
