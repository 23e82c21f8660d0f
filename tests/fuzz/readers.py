"""Fuzz the notebook readers (``lifecycle.notebook``): ``.ipynb`` and percent ``.py``.

Cases are notebooks drawn with hypothesis (nbformat-4-shaped JSON documents; percent files
with markers, titles, ``[markdown]``/``[raw]`` kinds, options and PEP 723 headers), then cut
short, bit-flipped, spliced with bytes that are not UTF-8, nested thousands of levels deep, or
given values of the wrong JSON types.  Every case is read from a real file with
:func:`lifecycle.notebook.read_notebook`; the only acceptable failure is
:class:`~lifecycle.notebook.NotebookFormatError`.  Files of 100 MB are read in a child process
that reports its peak memory.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from lifecycle.notebook import NotebookFormatError, loads_ipynb, read_notebook
from tests.fuzz import corpus
from tests.fuzz.report import SEED, FuzzReport, Stopwatch

_TEXT = st.text(max_size=40)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_SOURCE = _TEXT | st.lists(_TEXT, max_size=4)
_OUTPUT = st.fixed_dictionaries(
    {"output_type": st.sampled_from(["stream", "execute_result", "display_data", "error", "x"])},
    optional={
        "name": st.sampled_from(["stdout", "stderr"]),
        "text": _SOURCE,
        "data": st.dictionaries(st.sampled_from(["text/plain", "image/png", "application/json", "text/html"]),
                                _SOURCE | JSON_VALUE, max_size=3),
        "metadata": st.dictionaries(_TEXT, st.integers() | _TEXT, max_size=2),
        "execution_count": st.none() | st.integers(),
        "traceback": st.lists(_TEXT, max_size=3),
    },
)  # fmt: skip
_CELL = st.fixed_dictionaries(
    {"cell_type": st.sampled_from(["code", "markdown", "raw", "other"]), "source": _SOURCE},
    optional={
        "id": _TEXT,
        "metadata": st.fixed_dictionaries({}, optional={"amphikernel": st.dictionaries(_TEXT, st.integers() | _TEXT | st.booleans(), max_size=3)}),
        "outputs": st.lists(_OUTPUT, max_size=3),
        "execution_count": st.none() | st.integers(),
    },
)  # fmt: skip
IPYNB = st.fixed_dictionaries(
    {"nbformat": st.sampled_from([4, 4, 4, 3, 5]), "nbformat_minor": st.integers(0, 6), "cells": st.lists(_CELL, max_size=5)},
    optional={"metadata": st.dictionaries(_TEXT, JSON_VALUE, max_size=3)},
)  # fmt: skip
"""nbformat-4-shaped documents (sometimes another version, an unknown cell or output type)."""

_MARKER = st.builds(
    lambda title, kind, opts: "# %%" + (f" {title}" if title else "") + kind + "".join(f" {k}={v}" for k, v in opts),
    st.text(alphabet="abc xyz[]=\"'", max_size=10),
    st.sampled_from(["", " [markdown]", " [md]", " [raw]", " [bogus]"]),
    st.lists(st.tuples(st.sampled_from(["hide", "a", "x-y", "="]), st.sampled_from(["true", "1", "2.5", '"s"', "nan", "[", ""])), max_size=3),
)  # fmt: skip
PERCENT = st.builds(
    lambda header, parts: header + "".join(f"{m}\n{body}\n" for m, body in parts),
    st.sampled_from(["", "#!/usr/bin/env python\n", '# /// script\n# [tool.amphikernel]\n# semantics = "strict"\n# ///\n',
                     '# /// script\n# [tool.amphikernel\n', '"""doc"""\n']),
    st.lists(st.tuples(_MARKER, st.text(max_size=60)), max_size=5),
)  # fmt: skip
"""Percent-format files."""


def _json_mutations(rng: random.Random, text: bytes) -> bytes:
    choice = rng.randrange(4)
    if choice == 0:  # deep nesting
        depth = rng.choice([100, 2_000, 100_000])
        return b'{"nbformat": 4, "cells": [' + b"[" * depth + b"]" * depth + b"]}"
    if choice == 1:  # wrong types at the top
        doc = {"nbformat": rng.choice([4, "4", None, 4.0]), "cells": rng.choice([[], {}, "x", [1, None, []], [{"cell_type": "code", "source": 5}]])}
        return json.dumps(doc).encode()
    if choice == 2:  # a string that is not UTF-8
        cut = rng.randrange(len(text) + 1)
        return text[:cut] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80"]) + text[cut:]
    return text.replace(b"\\n", b"\\ud800", 1)  # a lone surrogate escape


def _mutate(rng: random.Random, data: bytes, json_like: bool) -> tuple[str, bytes]:
    if rng.random() < 0.15:
        return "valid", data
    if json_like and rng.random() < 0.3:
        return "json", _json_mutations(rng, data)
    name = rng.choice(["truncate", "bitflip", "invalid-utf8", "splice", "random", "truncate", "bitflip"])
    if name == "invalid-utf8":
        cut = rng.randrange(len(data) + 1)
        return name, data[:cut] + rng.choice([b"\xff", b"\xfe\xfe", b"\xc3", b"\x80"]) + data[cut:]
    return name, corpus.MUTATIONS[name](rng, data)


def fuzz_readers(cases: int, folder: Path, seed: int = SEED, base_count: int = 150) -> list[FuzzReport]:
    """Read ``cases`` mutated ``.ipynb`` files and ``cases`` percent files."""
    rng = random.Random(seed)
    bases = {
        "ipynb": [json.dumps(d, allow_nan=True).encode() for d in corpus.draw(IPYNB, base_count, seed)],
        "py": [t.encode("utf-8", "surrogatepass") for t in corpus.draw(PERCENT, base_count, seed)],
    }
    reports = []
    for suffix, base in bases.items():
        report = FuzzReport(f"notebook:.{suffix}")
        path = folder / f"fuzz.{suffix}"  # pass a tmpfs folder (/dev/shm) to spare the disk
        with Stopwatch() as clock:
            for i in range(cases):
                kind, data = _mutate(rng, base[i % len(base)], suffix == "ipynb")
                path.write_bytes(data)
                report.cases += 1
                report.kinds[kind] += 1
                try:
                    read_notebook(path)
                except NotebookFormatError:
                    report.bad += 1
                except Exception as exc:  # anything else escaping a reader is a crash
                    report.crashes += 1
                    report.notes.setdefault("first_crash", f"{type(exc).__name__}: {exc}"[:300])
            # Still serves: a valid notebook reads back its cells.
            path.write_text(VALID[suffix], encoding="utf-8")
            if [c.source for c in read_notebook(path).cells] != ["x = 1", "x + 1"]:
                report.hangs += 1
        report.seconds = clock.seconds
        reports.append(report)
    return reports


VALID = {
    "py": "# %%\nx = 1\n\n# %%\nx + 1\n",
    "ipynb": json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": "a", "source": "x = 1", "metadata": {}, "outputs": [], "execution_count": None},
        {"cell_type": "code", "id": "b", "source": "x + 1", "metadata": {}, "outputs": [], "execution_count": None},
    ]}),
}  # fmt: skip

_BIG_READER = r"""
import re, sys
from lifecycle.notebook import NotebookFormatError, read_notebook
try:
    nb = read_notebook(sys.argv[1])
    result = f"ok {len(nb.cells)}"
except NotebookFormatError as exc:
    result = f"refused {str(exc)[:80]}"
with open("/proc/self/status") as status:  # VmHWM: this process's peak (ru_maxrss survives exec)
    peak = int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1)) * 1024
print(result, peak)
"""


def big_files(folder: Path, size: int = 100 * 1024 * 1024) -> dict[str, dict[str, Any]]:
    """Write notebooks of ``size`` bytes (valid, truncated, not UTF-8, deeply nested) and read
    each in a child process: ``{name: {"result": ..., "peak_rss": bytes, "size": bytes}}``."""
    chunk = "x = 1  # " + "y" * 90 + "\n"
    line_count = size // len(chunk)
    files: dict[str, bytes] = {}
    body = chunk * line_count
    files["big.py"] = ("# %%\n" + body).encode()
    files["big-not-utf8.py"] = files["big.py"][: size // 2] + b"\xff\xfe" + files["big.py"][size // 2 :]
    doc = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "source": body, "metadata": {}, "outputs": [], "execution_count": None}]})  # fmt: skip
    files["big.ipynb"] = doc.encode()
    files["big-truncated.ipynb"] = files["big.ipynb"][: size // 2]
    depth = size // 2
    files["big-deep.ipynb"] = b'{"nbformat": 4, "cells": ' + b"[" * depth + b"]" * depth + b"}"
    results: dict[str, dict[str, Any]] = {}
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        del data
        done = subprocess.run(
            [sys.executable, "-c", _BIG_READER, str(path)], capture_output=True, text=True, timeout=300,
            cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip
        words = done.stdout.strip().rsplit(" ", 1)
        results[name] = {
            "size": path.stat().st_size,
            "result": words[0] if done.returncode == 0 else f"exit {done.returncode}: {done.stderr[-300:]}",
            "peak_rss": int(words[1]) if done.returncode == 0 and len(words) == 2 else 0,
        }
        path.unlink()
    files.clear()
    return results


def loads_ipynb_never_raises_else(text: bytes) -> None:
    """For hypothesis tests: ``loads_ipynb`` raises nothing but NotebookFormatError."""
    try:
        loads_ipynb(text)
    except NotebookFormatError:
        pass
