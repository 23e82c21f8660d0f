"""Fixtures of the fuzz tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.report import RUN_REPORTS


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A scratch folder on tmpfs (``/dev/shm``) when there is one: the readers' fuzz writes
    ten thousand files."""
    if Path("/dev/shm").is_dir():
        folder = Path(tempfile.mkdtemp(prefix="amphi-fuzz-", dir="/dev/shm"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:  # pragma: no cover - not Linux
        yield tmp_path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the cases, crashes and hangs of every boundary fuzzed in this run."""
    if not RUN_REPORTS:
        return
    terminalreporter.section("fuzz cases per boundary")
    for report in RUN_REPORTS:
        terminalreporter.write_line(
            f"{report.boundary:<22} cases {report.cases:>7}  refused {report.bad:>7}  crashes {report.crashes}  "
            f"hangs {report.hangs}  peak {report.peak_rss / 2**20:6.1f} MiB  {report.seconds:6.1f} s"
        )
