"""The server's WebSocket (edit and run mode) and HTTP endpoints under fuzzing
(see tests/fuzz/server.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.checks import assert_rate_limited, assert_survived
from tests.fuzz.report import CI_CASES, FuzzReport
from tests.fuzz.server import fuzz_http, fuzz_websocket


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", ["edit", "run"])
async def test_websocket_survives_fuzzing(mode: str, tmp_path: Path) -> None:
    report = await fuzz_websocket(mode, CI_CASES, tmp_path)
    print("\n" + FuzzReport.header(), report.row(), report.notes, sep="\n")
    assert_survived(report, CI_CASES)
    assert report.notes["tab_closed"] is None, "the server dropped the fuzzing tab"
    assert_rate_limited(report.notes["refusals"], report.bad)  # type: ignore[arg-type]
    assert report.notes["notebook_parses"], "a fuzzed save left an unreadable notebook"
    if mode == "edit":
        assert report.notes["saves"], "no save-notebook body reached the server"


@pytest.mark.timeout(600)
async def test_http_endpoints_survive_fuzzing(tmp_path: Path) -> None:
    report = await fuzz_http(CI_CASES, tmp_path)
    print("\n" + FuzzReport.header(), report.row(), report.notes, sep="\n")
    assert_survived(report, CI_CASES)
    statuses = report.notes["statuses"]
    assert isinstance(statuses, dict)
    # The requests reached every part: the page, refusals, the file with and without ranges.
    assert {200, 206, 403, 404, 416} <= set(statuses), statuses
