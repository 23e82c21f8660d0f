"""An app process's multiplexed ``cmd`` and ``mgmt`` sockets under fuzzing (see tests/fuzz/apps.py)."""

from __future__ import annotations

import pytest

from tests.fuzz.apps import fuzz_app
from tests.fuzz.checks import assert_rate_limited, assert_survived
from tests.fuzz.report import CI_CASES, FuzzReport


@pytest.mark.timeout(600)
async def test_app_process_sockets_survive_fuzzing_and_count_every_bad_frame() -> None:
    reports = await fuzz_app(CI_CASES)
    print("\n" + FuzzReport.header(), *(r.row() for r in reports), *(r.notes for r in reports), sep="\n")
    cmd, mgmt = reports
    assert (cmd.boundary, mgmt.boundary) == ("app:cmd", "app:mgmt")
    for report in reports:
        assert_survived(report, CI_CASES)
        # Every broken envelope was counted by the app process.
        assert report.notes["app_dropped"] == report.notes["expected_dropped"] > 0, report.notes
    # Every undecodable command frame that reached the live session was counted by its kernel.
    assert cmd.notes["kernel_total"] == cmd.notes["expected_total"], cmd.notes
    assert_rate_limited(cmd.notes["bad_frame_reports"], cmd.bad)  # type: ignore[arg-type]
    # Every single-frame management request was answered, an error for every bad one.
    assert mgmt.notes["answered"] == mgmt.notes["expected_answers"], mgmt.notes
    assert mgmt.notes["error_replies"] >= mgmt.bad - mgmt.notes["expected_dropped"], mgmt.notes  # type: ignore[operator]
    assert len(mgmt.notes["sessions"]) == 1, mgmt.notes  # type: ignore[arg-type]
