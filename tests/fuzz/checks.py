"""The assertions every boundary's fuzz run must pass."""

from __future__ import annotations

from tests.fuzz.report import MIB, FuzzReport

PEAK_HEADROOM = 320 * MIB
"""The most a target's resident memory may grow during a run (the oversized frames are up to
12 MiB each; decoding one holds a few copies)."""
END_HEADROOM = 160 * MIB
"""The most it may stay above its starting point afterwards."""


def assert_survived(report: FuzzReport, cases: int) -> None:
    """No crash, no hang, every case sent, memory bounded."""
    assert report.cases >= cases, report
    assert report.crashes == 0, report
    assert report.hangs == 0, report
    assert report.bad > 0, f"no case was refused: the mutations do not reach the decoder: {report}"
    if report.base_rss:
        assert report.peak_rss - report.base_rss < PEAK_HEADROOM, report.row()
        assert report.end_rss - report.base_rss < END_HEADROOM, report.row()


def assert_rate_limited(reports: int, bad: int) -> None:
    """Every bad frame was counted, but only a few were answered."""
    assert 0 < reports <= max(40, bad // 10), (reports, bad)
