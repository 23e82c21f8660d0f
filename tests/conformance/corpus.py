"""The conformance corpus: notebooks, their reference outputs, normalisation and comparison.

A corpus directory holds ``notebooks/*.ipynb`` (outputs cleared) and
``reference/<python version>/<same name>.ipynb`` (the same notebooks run top to bottom by
nbclient + ipykernel).  ``reference/3.12`` is canonical.

Each code cell's outputs are reduced to a list of comparable *items*:

* ``("stdout", text)`` / ``("stderr", text)``: console text;
* ``("result", text)`` / ``("display", text)``: the ``text/plain`` of a result or display;
* ``("error", ename)``: the exception type of an error output.

Normalisation (the only one allowed) removes ANSI colour codes, object addresses
(``at 0x...``), the kernel's own cell file names inside tracebacks (and warning lines) and,
inside ``text/plain`` only, runs of whitespace (line breaking may differ).  Within a stretch of console output (between
two non-console outputs), stdout comes before stderr: Jupyter itself flushes the two streams
independently, so their relative order is not a property of a notebook.  Consecutive chunks
of one stream are joined.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANONICAL_VERSION = "3.12"
"""The reference version used where a host's own version has no reference."""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+")
# The file a kernel compiles a cell with: ipykernel's temp files, IPython's historical names,
# the references' normalised ``<ipykernel-cell>``, and ours (``<cell ID>``) -- as it appears
# in a traceback line (``File "<name>", line N``) and at the start of a warning
# (``<name>:N: UserWarning: ...``).
_CELL_NAME = r'(?:<ipykernel-cell>|<ipython-input-[^">\s]*>|[^"\s]*ipykernel_\d+[/\\]\d+\.py|<cell [^">\s]*>)'
_CELL_FILE = re.compile(rf'File "{_CELL_NAME}"')
_WARNING_FILE = re.compile(rf"^{_CELL_NAME}(?=:\d+: )", re.MULTILINE)
_WHITESPACE = re.compile(r"\s+")

Item = tuple[str, str]
"""One comparable output: ``(kind, text)``."""


def normalise_stream(text: str) -> str:
    """Console text: ANSI codes, object addresses and cell file names removed."""
    text = _ANSI.sub("", text)
    text = _ADDRESS.sub("at 0x...", text)
    text = _CELL_FILE.sub('File "<cell>"', text)
    return _WARNING_FILE.sub("<cell>", text)


def normalise_plain(text: str) -> str:
    """``text/plain``: as :func:`normalise_stream`, plus runs of whitespace made one space."""
    return _WHITESPACE.sub(" ", normalise_stream(text)).strip()


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def cell_items(outputs: list[dict[str, Any]]) -> list[Item]:
    """The comparable items of one cell's nbformat outputs (see the module docstring)."""
    items: list[Item] = []
    pending: dict[str, str] = {"stdout": "", "stderr": ""}

    def flush() -> None:
        for name in ("stdout", "stderr"):
            if pending[name]:
                items.append((name, normalise_stream(pending[name])))
                pending[name] = ""

    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            name = out.get("name", "stdout")
            pending[name if name in pending else "stdout"] += _text(out.get("text", ""))
            continue
        flush()
        if kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            plain = normalise_plain(_text(data["text/plain"])) if "text/plain" in data else "<no text/plain>"
            items.append(("result" if kind == "execute_result" else "display", plain))
        elif kind == "error":
            items.append(("error", str(out.get("ename", ""))))
    flush()
    return items


def render_items(items: list[Item]) -> str:
    """Readable text of a cell's items (for mismatch reports)."""
    if not items:
        return "(no output)\n"
    parts = []
    for kind, text in items:
        parts.append(f"[{kind}]\n{text}" + ("" if text.endswith("\n") else "\n"))
    return "".join(parts)


# ------------------------------------------------------------------------------ corpus


def read_ipynb(path: Path) -> dict[str, Any]:
    """The notebook JSON."""
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The code cells of a notebook JSON document, in order."""
    return [c for c in doc.get("cells", []) if c.get("cell_type") == "code"]


def code_sources(doc: dict[str, Any]) -> list[str]:
    """The source of every code cell."""
    return [_text(c.get("source", "")) for c in code_cells(doc)]


@dataclass
class CorpusNotebook:
    """One corpus notebook and its references (version -> path)."""

    name: str
    path: Path
    references: dict[str, Path] = field(default_factory=dict)

    def sources(self) -> list[str]:
        return code_sources(read_ipynb(self.path))

    def reference_items(self, version: str) -> list[list[Item]]:
        """Per code cell, the items of the reference for ``version``.

        Raises:
            KeyError: no reference for that version.
        """
        doc = read_ipynb(self.references[version])
        return [cell_items(c.get("outputs", [])) for c in code_cells(doc)]


@dataclass
class Corpus:
    root: Path
    notebooks: list[CorpusNotebook]
    versions: list[str]

    def get(self, name: str) -> CorpusNotebook:
        for nb in self.notebooks:
            if nb.name == name:
                return nb
        raise KeyError(name)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def notebook_paths(root: Path) -> list[Path]:
    """A corpus's notebooks: ``root/notebooks/*.ipynb``, sorted.

    Raises:
        FileNotFoundError: there are none.
    """
    root = Path(root)
    paths = sorted((root / "notebooks").glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no notebooks/*.ipynb under {root}")
    return paths


def load_corpus(root: Path) -> Corpus:
    """Read a corpus directory's layout (nothing is executed).

    Raises:
        FileNotFoundError: no ``notebooks/*.ipynb`` under ``root``.
    """
    root = Path(root)
    paths = notebook_paths(root)
    ref_root = root / "reference"
    versions = sorted(
        (d.name for d in ref_root.iterdir() if d.is_dir()) if ref_root.is_dir() else [], key=_version_key
    )
    notebooks = []
    for path in paths:
        refs = {v: ref_root / v / path.name for v in versions if (ref_root / v / path.name).is_file()}
        notebooks.append(CorpusNotebook(path.stem, path, refs))
    return Corpus(root, notebooks, versions)


def version_dependent_cells(nb: CorpusNotebook) -> set[int]:
    """Code-cell indexes whose reference outputs differ between the reference versions
    themselves (after normalisation)."""
    per_version = [nb.reference_items(v) for v in sorted(nb.references)]
    if not per_version:
        return set()
    out: set[int] = set()
    for index in range(max(len(p) for p in per_version)):
        seen = {json.dumps(p[index]) if index < len(p) else None for p in per_version}
        if len(seen) > 1:
            out.add(index)
    return out


def _common_lines(texts: list[str]) -> list[str]:
    """The lines every text has, in order (a common subsequence, matched text by text)."""
    common = texts[0].splitlines()
    for text in texts[1:]:
        other = text.splitlines()
        matcher = difflib.SequenceMatcher(None, common, other, autojunk=False)
        common = [line for block in matcher.get_matching_blocks() for line in common[block.a : block.a + block.size]]
    return common


def _is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(line == candidate for candidate in it) for line in needles)


def invariant_problems(
    per_version: list[list[Item]], actual: list[Item], changed_lines: tuple[str, ...] | list[str] = ()
) -> list[str]:
    """How ``actual`` (one cell's items) departs from what does *not* vary between the
    reference versions ``per_version`` (the same cell's items in each version): empty when it
    keeps all of it.

    * the kinds of the items, in order: those of every version when they agree, else those of
      one of the versions;
    * an item whose text is the same in every version: exactly that text (exception types
      included);
    * an item whose text varies: every line common to all versions, in order, except
      ``changed_lines`` (lines a newer version, which has no reference, is known to print
      differently): each of those must be a common line, and absent from ``actual``.
    """
    problems: list[str] = []
    unused = set(changed_lines)
    kinds = [[kind for kind, _ in items] for items in per_version]
    ours = [kind for kind, _ in actual]
    if ours not in kinds:
        return [f"output kinds {ours} are none of the references' {kinds}"]
    for index, (kind, text) in enumerate(actual):
        texts = [items[index][1] for items in per_version if [k for k, _ in items] == ours]
        if len(set(texts)) == 1:
            if text != texts[0]:
                problems.append(f"item {index} ({kind}) is the same in every reference version, and differs here")
        else:
            common = _common_lines(texts)
            lines = text.splitlines()
            kept = [line for line in common if line not in changed_lines]
            if not _is_subsequence(kept, lines):
                missing = [line for line in kept if line not in lines]
                problems.append(
                    f"item {index} ({kind}) lacks lines every reference version has: {missing[:5] or kept[:5]}"
                )
            for line in changed_lines:
                if line in common:
                    unused.discard(line)
                    if line in lines:
                        problems.append(f"item {index} ({kind}): {line!r} is listed as changed, but is printed as is")
    problems += [f"{line!r} is listed as changed, but is not a line every reference version has" for line in sorted(unused)]
    return problems


# --------------------------------------------------------------------------- comparison


@dataclass
class CellMismatch:
    notebook: str
    cell: int
    source: str
    expected: list[Item]
    actual: list[Item]

    def report(self, expected_label: str = "reference", actual_label: str = "amphikernel") -> str:
        exp, act = render_items(self.expected), render_items(self.actual)
        diff = "".join(
            difflib.unified_diff(
                exp.splitlines(True), act.splitlines(True), fromfile=expected_label, tofile=actual_label
            )
        )
        src = "\n".join("    " + line for line in self.source.splitlines())
        return (
            f"--- {self.notebook}, code cell {self.cell}:\n{src}\n"
            f"  {expected_label}:\n{_indent(exp)}  {actual_label}:\n{_indent(act)}  diff:\n{_indent(diff)}"
        )


def _indent(text: str) -> str:
    return "".join("    " + line for line in text.splitlines(True)) or "    \n"


@dataclass
class Comparison:
    notebook: str
    cells: int
    matched: int
    mismatches: list[CellMismatch]
    allowed: list[CellMismatch] = field(default_factory=list)
    """Mismatches in cells the host's exception list names (not failures)."""

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def report(self, expected_label: str = "reference", actual_label: str = "amphikernel") -> str:
        head = f"{self.notebook}: {self.matched}/{self.cells} code cells match"
        return "\n".join([head, *(m.report(expected_label, actual_label) for m in self.mismatches)])


def compare(
    notebook: str,
    sources: list[str],
    expected: list[list[Item]],
    actual: list[list[Item]],
    allowed_cells: set[int] | frozenset[int] = frozenset(),
) -> Comparison:
    """Compare two runs cell by cell; cells listed in ``allowed_cells`` may differ."""
    n = max(len(expected), len(actual), len(sources))
    mismatches, allowed = [], []
    matched = 0
    for i in range(n):
        exp = expected[i] if i < len(expected) else []
        act = actual[i] if i < len(actual) else []
        if exp == act:
            matched += 1
            continue
        mismatch = CellMismatch(notebook, i, sources[i] if i < len(sources) else "", exp, act)
        (allowed if i in allowed_cells else mismatches).append(mismatch)
    return Comparison(notebook, n, matched, mismatches, allowed)


@dataclass(frozen=True)
class PlatformLimit:
    """A cell Pyodide cannot match because of the platform, not of us or of the Python
    version: reported as an expected failure (never a pass), and only when the difference is
    exactly the documented one: ``replacements`` (ours -> reference's) turn our text into the
    reference's."""

    reason: str
    replacements: tuple[tuple[str, str], ...]

    def explains(self, mismatch: CellMismatch) -> bool:
        actual = []
        for kind, text in mismatch.actual:
            for ours, theirs in self.replacements:
                text = text.replace(ours, theirs)
            actual.append((kind, text))
        return actual == mismatch.expected
