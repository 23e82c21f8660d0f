"""The scientific-stack corpus (``../shared/corpus-sci``): layout, comparison rules, runner.

Layout of such a corpus (told apart from the standard one by its *flat* ``reference/``):

* ``notebooks/*.ipynb``: the notebooks, outputs cleared;
* ``reference/*.ipynb``: the same notebooks run top to bottom by a real Jupyter kernel
  (nbclient + ipykernel, matplotlib's inline backend) on CPython :data:`SCI_VERSION` with the
  packages of ``requirements.txt``;
* ``data/``: files the notebooks read from their working directory (copied into every run's
  scratch directory);
* ``compare_views.py``: the corpus's own statement of the comparison (see below).

The runner (:mod:`tests.conformance.sci_session`) is the subprocess host (``amphi execute``'s
code path) on the scientific-stack kernel interpreter ``.venv-kernels/sci-3.12`` (``make
sci-venv``, pins in ``requirements-sci.txt``), amphikernel on its ``PYTHONPATH`` as for every
kernel.

**Comparison** (the corpus README; :func:`cell_view` computes what its ``compare_views.view``
computes, and ``test_sci_corpus`` checks the two agree on every reference and actual cell).
Per code cell, a *view*:

* ``stdout``: all stdout text of the cell, ANSI codes removed, `` at 0x<hex>`` addresses
  normalised (stderr is not compared);
* ``results``: the ``text/plain`` of every ``execute_result`` and ``display_data``, in order,
  ANSI codes removed, addresses normalised, whitespace runs collapsed;
* ``images`` / ``html``: how many of those outputs have ``image/png`` / ``text/html`` (the
  bytes and markup are not compared);
* ``errors``: the exception names of the error outputs.

A cell whose source contains ``%time`` or ``%timeit`` (``%%time...`` too) is a *timing cell*:
its ``stdout`` becomes ``"<timing>"`` and its results ``["<timing>"]`` when it has any.  The
README adds "compare only that they produced timing output", so here a timing cell also needs
as many timing lines in its stdout as the reference (IPython's formats: ``... per loop (mean ±
std. dev. of R runs, L loops each)`` for ``%timeit``, ``Wall time: ...`` for ``%time``).

A cell matches when its view equals the reference's (and, for a timing cell, the timing lines
count agrees).  **Nondeterministic cells**: a notebook can draw unseeded random numbers, so a
single reference run cannot fix their values.  When a run leaves mismatching cells, the
notebook is run again (up to :data:`MAX_RUNS` runs in all, while a mismatching cell was the
same in every run so far); a mismatching cell whose view differs between our runs is
*nondeterministic*: it is not counted as matched, and it passes only when its *shape* (the
view with every number replaced by ``#`` and whitespace removed) is the reference's.  Every
other mismatch fails, reported with the diff of the views.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from tests.conformance.corpus import Corpus, CorpusNotebook, code_cells, notebook_paths, read_ipynb
from tests.conformance.runners import KERNEL_VENVS

SCI_VERSION = "3.12"
"""The CPython version the references were made with (and the kernel venv's)."""
SCI_VENV = KERNEL_VENVS / f"sci-{SCI_VERSION}"
"""The scientific-stack kernel virtualenv (``make sci-venv``)."""
MAX_RUNS = 3
"""Runs of one notebook at most (the first, plus reruns to tell nondeterministic cells)."""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_TIMING_SOURCE = re.compile(r"%%?time")
_TIMING_LINE = re.compile(r"per loop \(mean ± std\. dev\. of \d+ runs?, [\d,]+ loops? each\)|^Wall time: ", re.M)
_NUMBER = re.compile(r"[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_SPACE = re.compile(r"\s+")
TIMING = "<timing>"


class View(TypedDict):
    """One code cell's comparable view (the keys of the corpus's ``compare_views.view``)."""

    stdout: str
    results: list[str]
    images: int
    html: int
    errors: list[str]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "".join(value)


def _normalise(text: str, collapse: bool = False) -> str:
    text = _ADDRESS.sub(" at 0xADDR", _ANSI.sub("", text))
    return " ".join(text.split()) if collapse else text


def is_timing_cell(source: str) -> bool:
    """Whether the cell uses ``%time``/``%timeit`` (line or cell magic)."""
    return bool(_TIMING_SOURCE.search(source))


def _stdout(outputs: list[dict[str, Any]]) -> str:
    return "".join(_text(o.get("text", "")) for o in outputs
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")  # fmt: skip


def cell_view(source: str, outputs: list[dict[str, Any]]) -> View:
    """The view of one code cell (see the module docstring).

    Args:
        source: the cell's source.
        outputs: its nbformat 4 outputs (``stream``, ``execute_result``, ``display_data``,
            ``error`` dicts; text as a string or a list of strings).
    """
    view = View(stdout=_normalise(_stdout(outputs)), results=[], images=0, html=0, errors=[])
    for out in outputs:
        kind = out.get("output_type")
        if kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            view["images"] += "image/png" in data
            view["html"] += "text/html" in data
            if "text/plain" in data:
                view["results"].append(_normalise(_text(data["text/plain"]), collapse=True))
        elif kind == "error":
            view["errors"].append(str(out.get("ename", "")))
    if is_timing_cell(source):
        view["stdout"] = TIMING
        view["results"] = [TIMING] if view["results"] else []
    return view


def timing_lines(outputs: list[dict[str, Any]]) -> int:
    """How many ``%timeit`` / ``%time`` report lines the stdout holds."""
    return len(_TIMING_LINE.findall(_ANSI.sub("", _stdout(outputs))))


def view_shape(view: View) -> str:
    """The view with every number made ``#`` and whitespace removed: what a cell printing
    other random values of the same kind keeps."""
    return _SPACE.sub("", _NUMBER.sub("#", json.dumps(view, ensure_ascii=False, sort_keys=True)))


_CONTROL = {c: f"\\x{c:02x}" for c in range(32) if c != 10} | {13: "\\r", 9: "\\t"}


def render_view(view: View) -> str:
    """Readable lines of a view (for reports and diffs): stdout split at ``\\n`` only, other
    control characters shown escaped (``\\r``, ``\\t``, ``\\x1b``...)."""
    stdout = view["stdout"].translate(_CONTROL)
    lines = [f"stdout: {line}" for line in stdout.removesuffix("\n").split("\n")] if stdout else ["stdout: (none)"]
    if stdout and stdout != TIMING and not stdout.endswith("\n"):
        lines.append("stdout: (no newline at the end)")
    lines += [f"result: {text}" for text in view["results"]]
    lines += [f"images: {view['images']}, html: {view['html']}, errors: {view['errors'] or 'none'}"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ corpus


def is_sci_corpus(root: Path) -> bool:
    """Whether ``root`` has the scientific corpus's layout (``reference/*.ipynb``, flat)."""
    return any((Path(root) / "reference").glob("*.ipynb"))


def load_sci_corpus(root: Path) -> Corpus:
    """The corpus at ``root`` (every notebook's reference under :data:`SCI_VERSION`).

    Raises:
        FileNotFoundError: no ``notebooks/*.ipynb`` under ``root``.
    """
    root = Path(root)
    paths = notebook_paths(root)
    notebooks = []
    for path in paths:
        ref = root / "reference" / path.name
        notebooks.append(CorpusNotebook(path.stem, path, {SCI_VERSION: ref} if ref.is_file() else {}))
    return Corpus(root, notebooks, [SCI_VERSION])


def reference_outputs(nb: CorpusNotebook) -> list[list[dict[str, Any]]]:
    """The reference's outputs, per code cell."""
    return [c.get("outputs", []) for c in code_cells(read_ipynb(nb.references[SCI_VERSION]))]


# --------------------------------------------------------------------------- comparison


@dataclass
class CellResult:
    """One code cell compared: ``status`` is ``"match"``, ``"nondeterministic"`` (differs,
    and differs between our runs: values not comparable, shape compared) or ``"mismatch"``."""

    notebook: str
    cell: int
    source: str
    expected: View
    actual: View
    status: str
    reason: str = ""

    def differences(self) -> str:
        """Which parts of the view differ (``"stdout, errors"``), or why it is said to."""
        keys = [key for key in ("stdout", "results", "images", "html", "errors") if self.expected[key] != self.actual[key]]
        return "differs: " + ", ".join(keys) if keys else self.reason

    def report(self) -> str:
        exp, act = render_view(self.expected), render_view(self.actual)
        diff = "".join(difflib.unified_diff(exp.splitlines(True), act.splitlines(True),
                                            fromfile="reference", tofile="amphikernel"))  # fmt: skip
        src = "".join(f"    {line}\n" for line in self.source.splitlines())
        return f"--- {self.notebook}, code cell {self.cell} ({self.status}: {self.reason}):\n{src}{_indent(diff)}"


def _indent(text: str) -> str:
    return "".join("    " + line for line in text.splitlines(True))


@dataclass
class SciComparison:
    """A notebook's runs compared with its reference, cell by cell."""

    notebook: str
    cells: list[CellResult]
    figures_expected: int
    figures_shown: int
    """Per cell, the fewer of expected and shown ``image/png`` outputs, summed."""

    @property
    def matched(self) -> int:
        return sum(c.status == "match" for c in self.cells)

    @property
    def nondeterministic(self) -> list[CellResult]:
        return [c for c in self.cells if c.status == "nondeterministic"]

    @property
    def failures(self) -> list[CellResult]:
        """Mismatches, and nondeterministic cells whose shape differs from the reference's."""
        return [c for c in self.cells if c.status == "mismatch"
                or (c.status == "nondeterministic" and view_shape(c.actual) != view_shape(c.expected))]  # fmt: skip

    def report(self) -> str:
        head = f"{self.notebook}: {self.matched}/{len(self.cells)} code cells match"
        return "\n".join([head, *(c.report() for c in self.cells if c.status != "match")])


def compare_runs(
    notebook: str, sources: list[str], expected: list[list[dict[str, Any]]], runs: list[list[list[dict[str, Any]]]]
) -> SciComparison:
    """Compare our runs of a notebook (``runs[r][cell]`` = nbformat outputs; the first run
    is the one reported) with the reference outputs ``expected[cell]``."""
    results: list[CellResult] = []
    figures_expected = figures_shown = 0
    for index in range(max(len(sources), len(expected), *(len(r) for r in runs))):
        source = sources[index] if index < len(sources) else ""
        ref = expected[index] if index < len(expected) else []
        outs = [run[index] if index < len(run) else [] for run in runs]
        want = cell_view(source, ref)
        views = [cell_view(source, out) for out in outs]
        got = views[0]
        figures_expected += want["images"]
        figures_shown += min(want["images"], got["images"])
        timing = is_timing_cell(source) and timing_lines(ref) != timing_lines(outs[0])
        if got == want and not timing:
            status, reason = "match", ""
        elif any(v != got for v in views[1:]):
            status, reason = "nondeterministic", f"the view differs between {len(views)} runs of ours"
        else:
            status = "mismatch"
            reason = (f"{timing_lines(outs[0])} timing lines, the reference has {timing_lines(ref)}" if got == want
                      else f"the same in {len(views)} run(s) of ours" if len(views) > 1 else "differs")  # fmt: skip
        results.append(CellResult(notebook, index, source, want, got, status, reason))
    return SciComparison(notebook, results, figures_expected, figures_shown)


def wants_rerun(cmp: SciComparison, runs: int) -> bool:
    """Whether another run could still show a mismatch to be nondeterministic."""
    return runs < MAX_RUNS and any(c.status == "mismatch" for c in cmp.cells)
