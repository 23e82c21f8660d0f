"""The notebook readers under fuzzing, and 100 MB notebooks (see tests/fuzz/readers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.readers import big_files, fuzz_readers
from tests.fuzz.report import CI_CASES, MIB, FuzzReport

BIG = 100 * MIB


@pytest.mark.timeout(900)
def test_readers_raise_only_notebook_format_errors(scratch: Path) -> None:
    reports = fuzz_readers(CI_CASES, scratch)
    print("\n" + FuzzReport.header(), *(r.row() for r in reports), sep="\n")
    for report in reports:
        assert report.cases >= CI_CASES
        assert report.crashes == 0, report.notes
        assert report.hangs == 0
        assert report.bad > 0


@pytest.mark.timeout(900)
def test_100_mb_notebooks_are_read_or_refused_in_bounded_memory(scratch: Path) -> None:
    results = big_files(scratch, BIG)
    print(results)
    expected = {
        "big.py": "ok 1", "big.ipynb": "ok 1", "big-not-utf8.py": "refused",
        "big-truncated.ipynb": "refused", "big-deep.ipynb": "refused",
    }  # fmt: skip
    for name, outcome in expected.items():
        result = results[name]
        assert str(result["result"]).startswith(outcome), (name, result)
        # A reader holds the bytes, the text and the cells: a few times the file, no more.
        assert 0 < result["peak_rss"] < 6 * result["size"] + 64 * MIB, (name, result)
