"""Every decoder of outside bytes, in process: hypothesis over raw bytes and over our message
types, and the fixed-seed mutation corpus.  Decoding never raises anything but the documented
error, whatever the bytes."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle import protocol
from pyodide_host import frames as pyodide_frames
from subprocess_host.server import messages
from subprocess_host.server.policy import Refuse, classify
from tests.fuzz import corpus
from tests.fuzz.report import CI_CASES, SEED

ISSUE_FRAME = (
    b"\x83\xa4type\xabinput-\xfaep\x1by\xaarequest_id\xa1r\xa4\xe6ext\xa1x"
)
"""The frame of issue 16: invalid UTF-8 inside the ``type`` string of an ``input-reply``."""

SETTINGS = settings(max_examples=1500, derandomize=True, deadline=None, database=None)
PROPERTY = settings(max_examples=500, derandomize=True, deadline=None, database=None)
"""For the two properties whose examples are slow to draw (recursive values, every message
type): the fixed-seed mutation corpus below sends CI_CASES frames through every decoder."""


def check_all(frame: bytes) -> None:
    """Run ``frame`` through every decoder; only documented errors may come out."""
    try:
        protocol.decode_command(frame)
    except protocol.CommandDecodeError as exc:
        assert isinstance(exc.to_notification(), protocol.KernelError)
    try:
        protocol.decode_notification(frame)
    except protocol.ProtocolError:
        pass
    tag = messages.peek_type(frame)
    assert tag is None or isinstance(tag, str)
    try:
        messages.decode_host_command(frame)
    except messages.HostCommandError:
        pass
    for mode in ("edit", "run"):
        decision = classify(mode, frame)  # never raises
        if mode == "run" and not isinstance(decision, Refuse):
            assert protocol.decode_command(frame).__struct_config__.tag in {
                "update-ui-element", "widget-model", "input-reply", "interrupt"
            }  # fmt: skip
    head = pyodide_frames.peek(frame)
    assert head is None or isinstance(head, pyodide_frames.Peek)
    text, why = pyodide_frames.save_request_text(frame)
    assert isinstance(text, str) and isinstance(why, str)
    assert isinstance(protocol.nested_too_deep(frame), bool)


def test_the_issue_frame_is_a_command_decode_error() -> None:
    with pytest.raises(protocol.CommandDecodeError) as info:
        protocol.decode_command(ISSUE_FRAME)
    assert "UTF-8" in info.value.reason
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_notification(ISSUE_FRAME)
    assert messages.peek_type(ISSUE_FRAME) is None
    assert isinstance(classify("edit", ISSUE_FRAME), Refuse)
    check_all(ISSUE_FRAME)


@pytest.mark.parametrize("depth", [10, 1000, 100_000])
def test_deep_nesting_is_a_decode_error_not_a_recursion_error(depth: int) -> None:
    frame = b"\x82\xa4type\xb1update-ui-element\xa6values\x81\xa1v" + b"\x91" * depth + b"\xc0"
    check_all(frame)
    assert protocol.nested_too_deep(frame) is (depth + 2 > protocol.MAX_NESTING)


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes(frame: bytes) -> None:
    check_all(frame)


@PROPERTY
@given(corpus.union_strategy([*protocol.Command.__args__, *protocol.Notification.__args__,
                              messages.SaveNotebook, messages.RestartKernel]))  # fmt: skip
def test_message_shaped_values(value: dict) -> None:
    try:
        frame = msgspec.msgpack.encode(value)
    except (TypeError, OverflowError):
        return
    check_all(frame)


def test_the_fixed_seed_mutation_corpus() -> None:
    base = corpus.drawn_frames(protocol.Command.__args__, 600, SEED)  # the kernel fuzz's draw
    kinds = set()
    for kind, frame in corpus.frames(CI_CASES, base, seed=SEED, oversized=False):
        kinds.add(kind)
        check_all(frame)
    assert kinds >= {"valid", "truncate", "bitflip", "invalid-utf8", "wrong-type", "huge-length", "deep"}


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value)) if value else 0
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values())) if value else 0
    return 0


@PROPERTY
@given(corpus.ANY_VALUE, st.integers(0, 6))
def test_nested_too_deep_measures_the_real_depth(value: object, limit: int) -> None:
    frame = msgspec.msgpack.encode(value)
    if len(frame) > limit:
        assert protocol.nested_too_deep(frame, limit) is (_depth(value) > limit)


def test_bad_frames_are_all_counted_and_reported_at_a_limited_rate() -> None:
    now = [0.0]
    bad = protocol.BadFrames(burst=5, per_second=2.0, clock=lambda: now[0])
    admitted = [bad.admit() for _ in range(100)]
    assert bad.count == 100 and admitted.count(True) == 5 and bad.suppressed == 95
    now[0] += 1.0  # two more reports allowed
    error = protocol.CommandDecodeError("x")
    assert bad.admit(error) and error.total == 101 and error.suppressed == 95
    assert "(bad frame 101; 95 before it not reported)" in error.to_notification().detail
    assert bad.admit() and not bad.admit()
    assert bad.count == 103 and bad.reported == 7
