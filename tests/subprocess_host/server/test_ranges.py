"""HTTP byte ranges, RFC 9110 section 14 (pure parsing, no server)."""

from __future__ import annotations

import pytest

from subprocess_host.server.ranges import ByteRange, RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "length", "expected"),
    [
        ("bytes=0-9", 100, (0, 9)),
        ("bytes=10-", 100, (10, 99)),
        ("bytes=-10", 100, (90, 99)),
        ("bytes=-1000", 100, (0, 99)),  # suffix longer than the representation: all of it
        ("bytes=90-1000", 100, (90, 99)),  # last-pos past the end is clamped
        ("bytes=99-99", 100, (99, 99)),
        ("BYTES = 5 - 6", 100, (5, 6)),  # unit is case-insensitive, whitespace tolerated
        ("bytes=0-0", 1, (0, 0)),
    ],
)
def test_satisfiable_single_ranges(header: str, length: int, expected: tuple[int, int]) -> None:
    byte_range = parse_range(header, length)
    assert byte_range == ByteRange(expected[0], expected[1], length)
    assert byte_range.size == expected[1] - expected[0] + 1
    assert byte_range.content_range() == f"bytes {expected[0]}-{expected[1]}/{length}"


@pytest.mark.parametrize(
    ("header", "length"),
    [("bytes=100-", 100), ("bytes=100-200", 100), ("bytes=-0", 100), ("bytes=0-", 0), ("bytes=-5", 0)],
)
def test_unsatisfiable_ranges_raise_with_the_length(header: str, length: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as info:
        parse_range(header, length)
    assert info.value.length == length


@pytest.mark.parametrize(
    "header",
    [None, "", "items=0-5", "bytes=5-1", "bytes=a-b", "bytes=", "bytes=0-1,5-6", "bytes 0-5", "bytes=--5"],
)
def test_ignored_headers_mean_the_whole_representation(header: str | None) -> None:
    assert parse_range(header, 100) is None


def test_negative_length_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_range("bytes=0-1", -1)
