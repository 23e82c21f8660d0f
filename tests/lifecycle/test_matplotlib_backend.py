"""matplotlib through real kernels, as Jupyter's inline backend behaves (lifecycle.matplotlib_backend).

Real matplotlib (pinned in requirements-dev.txt), real kernels: the ``harness`` fixture (both
queue readers), run-mode kernel threads (:class:`subprocess_host.thread_kernel.ThreadKernel`),
and kernel subprocesses (:class:`subprocess_host.client.KernelClient`, plain ``python -c``).
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from lifecycle import protocol
from lifecycle.kernel_lifecycle import KernelArgs
from lifecycle.matplotlib_backend import BACKEND
from lifecycle.matplotlib_backend.render import png_size
from tests.lifecycle.harness import KernelHarness, errors, run_in_thread_kernels

pytest.importorskip("matplotlib")
pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"
FIG = "<Figure size 640x480 with 1 Axes>"


def figure_outputs(notes: list[Any], cell_id: str) -> list[protocol.CellOutput]:
    """The cell's outputs that show a figure (their text is a Figure repr)."""
    return [
        n for n in notes
        if isinstance(n, protocol.CellOutput) and n.cell_id == cell_id
        and str(n.data.get("text/plain", "")).startswith("<Figure size")
    ]


def cell_notes(notes: list[Any], cell_id: str) -> list[Any]:
    return [n for n in notes if getattr(n, "cell_id", None) == cell_id]


@pytest.fixture(autouse=True)
def _no_user_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the default: no MPLBACKEND chosen by the user."""
    monkeypatch.delenv("MPLBACKEND", raising=False)


async def test_show_emits_each_figure_once_as_png_and_repr_then_closes(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nn_open = len(plt.get_fignums())",
    })
    assert not errors(notes)
    shown = figure_outputs(notes, "a")
    assert len(shown) == 1
    assert shown[0].kind == "display"
    assert shown[0].data["text/plain"] == FIG
    assert shown[0].data["image/png"].startswith(PNG)
    assert set(shown[0].data) == {"text/plain", "image/png"}
    notes = await harness.execute({"b": "n_open"})
    assert [n.data["text/plain"] for n in notes if isinstance(n, protocol.CellOutput)] == ["0"]


async def test_console_output_comes_before_the_figure() -> None:
    h = await KernelHarness("asyncio", KernelArgs(console="replace")).start()
    try:
        notes = await h.execute({
            "a": "import matplotlib.pyplot as plt\nprint('before show')\nplt.plot([1])\nplt.show()\n"
                 "print('after show')\nplt.plot([2])\nprint('end of cell')",
        })
        sequence: list[str] = []
        for n in cell_notes(notes, "a"):
            if isinstance(n, protocol.CellOutput):
                sequence.append("<figure>")
            elif isinstance(n, protocol.CellConsole):
                if sequence and sequence[-1] != "<figure>":
                    sequence[-1] += n.text
                else:
                    sequence.append(n.text)
        assert sequence == ["before show\n", "<figure>", "after show\nend of cell\n", "<figure>"]
    finally:
        await h.stop()


async def test_figure_left_open_is_shown_after_the_cell_and_closed(harness: KernelHarness) -> None:
    notes = await harness.execute({"a": "import matplotlib.pyplot as plt\nlines = plt.plot([1, 2])"})
    shown = figure_outputs(notes, "a")
    assert len(shown) == 1 and shown[0].data["image/png"].startswith(PNG)
    # The output comes before the cell goes idle.
    idle = next(i for i, n in enumerate(notes) if isinstance(n, protocol.CellStatus) and n.status == "idle")
    assert notes.index(shown[0]) < idle
    notes = await harness.execute({"b": "len(plt.get_fignums())"})
    assert [n.data["text/plain"] for n in notes if isinstance(n, protocol.CellOutput)] == ["0"]


async def test_a_cell_that_draws_nothing_shows_nothing(harness: KernelHarness) -> None:
    await harness.execute({"a": "import matplotlib.pyplot as plt"})
    notes = await harness.execute({"b": "x = 1"})
    assert not [n for n in notes if isinstance(n, protocol.CellOutput)]


async def test_figure_as_last_expression_is_shown_once(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([3, 1, 2])\nfig",
    })
    shown = figure_outputs(notes, "a")
    assert len(shown) == 1
    assert shown[0].kind == "result"
    assert shown[0].data["image/png"].startswith(PNG)


async def test_display_of_a_figure_is_not_repeated_but_a_later_change_is(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2])\ndisplay(fig)",
        "b": "import matplotlib.pyplot as plt\nfig2, ax2 = plt.subplots()\nax2.plot([1, 2])\n"
             "display(fig2)\nax2.set_title('changed after display')",
    })
    assert len(figure_outputs(notes, "a")) == 1
    assert len(figure_outputs(notes, "b")) == 2


async def test_two_figures_are_shown_in_order(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": "import matplotlib.pyplot as plt\nplt.figure(figsize=(3, 2))\nplt.plot([1])\n"
             "plt.figure(figsize=(4, 3))\nplt.bar([1, 2], [3, 4])",
    })
    texts = [n.data["text/plain"] for n in figure_outputs(notes, "a")]
    assert texts == ["<Figure size 300x200 with 1 Axes>", "<Figure size 400x300 with 1 Axes>"]


async def test_svg_format(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": "import matplotlib.pyplot as plt\nfrom lifecycle.matplotlib_backend import configure_inline_backend\n"
             "configure_inline_backend('figure_format', 'svg')\nplt.plot([1, 2])\nplt.title('an svg title')",
    })
    [shown] = figure_outputs(notes, "a")
    assert set(shown.data) == {"text/plain", "image/svg+xml"}
    svg = shown.data["image/svg+xml"]
    assert isinstance(svg, str) and "<svg" in svg and "an svg title" in svg


async def test_retina_format_doubles_the_pixels_and_halves_the_size_metadata(harness: KernelHarness) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"
    notes = await harness.execute({"a": code})
    [plain] = figure_outputs(notes, "a")
    width_1x, height_1x = png_size(plain.data["image/png"])
    notes = await harness.execute({
        "b": "from lifecycle.matplotlib_backend import set_figure_formats\nset_figure_formats('retina')\n" + code,
    })
    [retina] = figure_outputs(notes, "b")
    width_2x, height_2x = png_size(retina.data["image/png"])
    meta = retina.metadata["image/png"]
    assert (meta["width"], meta["height"]) == (width_2x // 2, height_2x // 2)
    # Twice the pixels of the 1x image (tight cropping may differ by a pixel or two).
    assert abs(width_2x - 2 * width_1x) <= 4 and abs(height_2x - 2 * height_1x) <= 4


async def test_several_formats_and_default_inline_settings(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": "import matplotlib, matplotlib.pyplot as plt\n"
             "from lifecycle.matplotlib_backend import set_figure_formats, figure_settings\n"
             "defaults = figure_settings()\n"
             "rc = (tuple(matplotlib.rcParams['figure.figsize']), matplotlib.rcParams['figure.dpi'],"
             " matplotlib.rcParams['figure.facecolor'])\n"
             "set_figure_formats('png', 'jpeg', 'pdf')\nplt.plot([1, 2])",
        "b": "defaults, rc",
    })
    [shown] = figure_outputs(notes, "a")
    assert set(shown.data) == {"text/plain", "image/png", "image/jpeg", "application/pdf"}
    assert shown.data["image/jpeg"][:2] == b"\xff\xd8" and shown.data["application/pdf"][:5] == b"%PDF-"
    [result] = [n.data["text/plain"] for n in notes if isinstance(n, protocol.CellOutput) and n.cell_id == "b"]
    assert "'figure_formats': ['png']" in result and "'bbox_inches': 'tight'" in result
    assert "'close_figures': True" in result
    assert "((6.4, 4.8), 100.0, 'white')" in result


async def test_unknown_format_is_a_clear_error(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": "from lifecycle.matplotlib_backend import set_figure_formats\nset_figure_formats('gif')",
    })
    [error] = errors(notes, "a")
    assert error.ename == "ValueError" and "unknown figure format 'gif'" in error.evalue


async def test_closed_figures_are_not_shown(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": "import matplotlib.pyplot as plt\nfig = plt.figure()\nplt.plot([1])\nplt.close(fig)\n"
             "plt.plot([2])\nplt.close('all')",
    })
    assert not figure_outputs(notes, "a")
    assert not errors(notes)


async def test_a_cell_that_raises_still_shows_its_figures(harness: KernelHarness) -> None:
    notes = await harness.execute({"a": "import matplotlib.pyplot as plt\nplt.plot([1, 2])\n1 / 0"})
    [error] = errors(notes, "a")
    assert error.ename == "ZeroDivisionError"
    [shown] = figure_outputs(notes, "a")
    assert shown.data["image/png"].startswith(PNG)
    assert notes.index(error) < notes.index(shown)  # Jupyter: the traceback, then the flushed figure


async def test_a_figure_that_fails_to_render_is_an_error_output(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.title('$\\\\notacommand$')",
        "b": "after = 1",
    })
    [error] = errors(notes, "a")
    assert error.ename == "ValueError" and not error.fatal  # shown; the cell did not fail
    assert not figure_outputs(notes, "a")
    assert harness.kernel is not None and harness.kernel.globals.get("after") == 1


async def test_empty_figure_shows_its_repr_only(harness: KernelHarness) -> None:
    notes = await harness.execute({"a": "import matplotlib.pyplot as plt\nfig = plt.figure()"})
    [shown] = figure_outputs(notes, "a")
    assert shown.data == {"text/plain": "<Figure size 640x480 with 0 Axes>"}


async def test_figure_show_method_and_ioff(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1])\nfig.show()",
    })
    assert len(figure_outputs(notes, "a")) == 1
    try:
        notes = await harness.execute({"b": "plt.ioff()\nfig = plt.figure()\nplt.plot([1])"})
        assert not figure_outputs(notes, "b")  # Jupyter: no automatic display without interactive mode
        notes = await harness.execute({"c": "plt.show()"})
        assert len(figure_outputs(notes, "c")) == 1
    finally:
        await harness.execute({"z": "plt.ion()"})


async def test_close_figures_false_keeps_figures_and_shows_changed_ones(harness: KernelHarness) -> None:
    await harness.execute({
        "a": "import matplotlib.pyplot as plt\nfrom lifecycle.matplotlib_backend import set_close_figures\n"
             "set_close_figures(False)",
    })
    notes = await harness.execute({"b": "fig = plt.figure()\nplt.plot([1])"})
    assert len(figure_outputs(notes, "b")) == 1
    notes = await harness.execute({"c": "plt.title('again')"})
    assert len(figure_outputs(notes, "c")) == 1  # changed: shown again
    notes = await harness.execute({"d": "len(plt.get_fignums())"})
    assert not figure_outputs(notes, "d")
    assert [n.data["text/plain"] for n in notes if isinstance(n, protocol.CellOutput)] == ["1"]


async def test_backend_is_ours_and_interactive(harness: KernelHarness) -> None:
    notes = await harness.execute({
        "a": "import matplotlib, matplotlib.pyplot as plt\n(matplotlib.get_backend(), plt.isinteractive())",
    })
    [out] = [n for n in notes if isinstance(n, protocol.CellOutput)]
    assert out.data["text/plain"] == repr((BACKEND, True))


# --------------------------------------------------------------------- kernel threads

THREAD_CELL = textwrap.dedent("""
    import _amphi_mpl_sync as sync
    import matplotlib.pyplot as plt
    from matplotlib import _pylab_helpers
    from lifecycle.matplotlib_backend import set_figure_formats
    set_figure_formats("svg")
    numbers = []
    for i in range(20):
        sync.barrier.wait()
        fig = plt.figure()
        plt.plot([0, i])
        plt.title(f"{SESSION}-fig{i:02d}")
        numbers.append(fig.number)
        sync.barrier.wait()
    titles = [m.canvas.figure.axes[0].get_title() for m in _pylab_helpers.Gcf.get_all_fig_managers()]
    print(repr((numbers, titles)))
""")


async def test_kernel_threads_keep_their_figures_apart() -> None:
    """Two run-mode kernels (threads of this process) plot 20 figures each in lockstep."""
    notes = await run_in_thread_kernels(THREAD_CELL, "_amphi_mpl_sync")
    for name, other in (("alpha", "beta"), ("beta", "alpha")):
        assert not errors(notes[name]), errors(notes[name])
        printed = "".join(n.text for n in notes[name] if isinstance(n, protocol.CellConsole))
        numbers, titles = ast.literal_eval(printed)  # the cell printed a repr of two lists
        assert numbers == list(range(1, 21))  # figure numbers count per session
        assert titles == [f"{name}-fig{i:02d}" for i in range(20)]
        svgs = [n.data["image/svg+xml"] for n in figure_outputs(notes[name], "c")]
        assert len(svgs) == 20
        for i, svg in enumerate(svgs):
            assert f"{name}-fig{i:02d}" in svg
            assert f"{other}-fig" not in svg


# ----------------------------------------------------------------------- subprocesses


async def test_kernel_subprocess_starts_without_matplotlib_and_shows_a_plot() -> None:
    from subprocess_host.client import KernelClient

    client = KernelClient()  # inherits this environment, without MPLBACKEND (fixture above)
    notes: list[Any] = []
    client.on_notification(lambda note, frame: notes.append(note))
    await client.start()
    await client.wait_ready(30)
    try:
        async def run(cell_id: str, code: str) -> list[Any]:
            mark = len(notes)
            await client.send(protocol.ExecuteCells(cell_ids=[cell_id], codes=[code]))
            deadline = time.monotonic() + 60
            while not any(isinstance(n, protocol.CompletedRun) for n in notes[mark:]):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            return notes[mark:]

        first = await run("a", "import sys\nsorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'numpy', 'PIL'))")
        assert [n.data["text/plain"] for n in first if isinstance(n, protocol.CellOutput)] == ["[]"]
        plotted = await run("b", "import matplotlib.pyplot as plt\nplt.plot([1, 4, 9])\nplt.show()")
        assert not errors(plotted)
        [shown] = figure_outputs(plotted, "b")
        assert shown.data["text/plain"] == FIG and shown.data["image/png"].startswith(PNG)
    finally:
        await client.shutdown()


def run_script(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter at the repository root; its stdout."""
    environment = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    environment.update(env)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=environment,
        capture_output=True, text=True, timeout=100,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


KERNEL_IN_SCRIPT = """
    import asyncio
    from lifecycle import protocol
    from lifecycle.kernel_lifecycle import KernelArgs
    from tests.lifecycle.harness import KernelHarness

    async def main(code):
        h = await KernelHarness("asyncio", KernelArgs()).start()
        notes = await h.execute({"c": code})
        await h.stop()
        return [sorted(n.data) for n in notes if isinstance(n, protocol.CellOutput)]
"""


def test_matplotlib_imported_before_the_kernel_is_switched_on_first_run() -> None:
    out = run_script(KERNEL_IN_SCRIPT + """
    import matplotlib.pyplot as plt
    outside = plt.figure()  # made before any kernel: not the kernel's
    print(asyncio.run(main("import matplotlib, matplotlib.pyplot as plt\\n"
                           "print(matplotlib.get_backend(), plt.get_fignums())\\nlines = plt.plot([1])")))
    print(plt.get_fignums(), plt.gcf() is outside)
    """)
    lines = out.splitlines()
    assert lines[0] == f"{BACKEND} []"
    assert lines[1] == "[['image/png', 'text/plain']]"
    assert lines[2] == "[1] True"


def test_a_backend_chosen_with_mplbackend_is_respected() -> None:
    out = run_script(KERNEL_IN_SCRIPT + """
    print(asyncio.run(main("import matplotlib, matplotlib.pyplot as plt\\n"
                           "print(matplotlib.get_backend())\\nplt.plot([1])\\nplt.show()")))
    """, MPLBACKEND="agg")
    assert out.splitlines() == ["agg", "[]"]


def test_creating_a_kernel_imports_no_matplotlib() -> None:
    """``python -X importtime``: building a kernel imports neither matplotlib nor numpy."""
    code = """
    from lifecycle.kernel_lifecycle import KernelArgs, create_kernel, teardown_kernel
    kernel, runtime = create_kernel(KernelArgs(), lambda note: None)
    teardown_kernel(kernel, runtime)
    """
    environment = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", textwrap.dedent(code)], cwd=REPO,
        env=environment, capture_output=True, text=True, timeout=100,
    )
    assert done.returncode == 0, done.stderr
    imported = re.findall(r"\|\s+([\w.]+)$", done.stderr, re.MULTILINE)
    assert "lifecycle.matplotlib_backend" in imported
    assert not [m for m in imported if m.split(".")[0] in ("matplotlib", "numpy", "PIL")]
