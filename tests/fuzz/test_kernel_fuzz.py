"""The subprocess kernel's four ZeroMQ input channels under fuzzing (see tests/fuzz/kernel.py)."""

from __future__ import annotations

import pytest

from tests.fuzz.checks import assert_rate_limited, assert_survived
from tests.fuzz.kernel import fuzz_kernel
from tests.fuzz.report import CI_CASES, FuzzReport


@pytest.mark.timeout(600)
async def test_every_channel_survives_fuzzing_and_counts_every_bad_frame() -> None:
    reports = await fuzz_kernel(CI_CASES)
    print("\n" + FuzzReport.header(), *(r.row() for r in reports), sep="\n")
    assert [r.boundary for r in reports] == ["kernel:control", "kernel:ui", "kernel:input", "kernel:completion"]
    for report in reports:
        assert_survived(report, CI_CASES)
        # The kernel's own count of bad frames equals what was sent, channel after channel.
        assert report.notes["kernel_total"] == report.notes["expected_total"], report.notes
        assert_rate_limited(report.notes["bad_frame_reports"], report.bad)  # type: ignore[arg-type]
