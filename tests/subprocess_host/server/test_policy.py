"""What each mode lets a page send (pure classification, no server, no kernel)."""

from __future__ import annotations

import msgspec
import pytest

from lifecycle import protocol
from subprocess_host.server.messages import RestartKernel, SaveNotebook
from subprocess_host.server.policy import Forward, HostRequest, Refuse, classify


def frame(**fields: object) -> bytes:
    return msgspec.msgpack.encode(fields)


RUN_REFUSED = [
    frame(type="execute-cells", cell_ids=["a"], codes=["1"]),
    frame(type="delete-cells", cell_ids=["a"]),
    frame(type="set-config", semantics="strict"),
    frame(type="install-packages", packages=["x"]),
    frame(type="complete", request_id="r", code="im", cursor=2),
    frame(type="stop"),
    frame(type="stopped-ack"),
    frame(type="save-notebook", cells=[]),
    frame(type="restart-kernel"),
    frame(type="no-such-command"),
    b"\xc1 not msgpack",
    msgspec.msgpack.encode([1, 2, 3]),
    frame(value=1),
]


@pytest.mark.parametrize("data", RUN_REFUSED)
def test_run_mode_refuses_everything_that_runs_or_changes_code(data: bytes) -> None:
    decision = classify("run", data)
    assert isinstance(decision, Refuse)
    assert isinstance(decision.error, protocol.KernelError)
    assert decision.error.message


@pytest.mark.parametrize(
    "data",
    [
        frame(type="update-ui-element", values={"c/0": 3}),
        frame(type="widget-model", model_id="m", state={"x": 1}),
        frame(type="input-reply", request_id="r", text="hi"),
        frame(type="interrupt"),
    ],
)
def test_run_mode_forwards_ui_updates_input_replies_and_interrupts(data: bytes) -> None:
    decision = classify("run", data)
    assert isinstance(decision, Forward)
    assert protocol.encode(decision.command) == protocol.encode(protocol.decode_command(data))


def test_run_mode_refusal_names_the_type() -> None:
    decision = classify("run", frame(type="execute-cells", cell_ids=[], codes=[]))
    assert isinstance(decision, Refuse)
    assert decision.error.command_type == "execute-cells"
    assert "run mode" in decision.error.message


def test_run_mode_validates_allowed_types_too() -> None:
    decision = classify("run", frame(type="update-ui-element", values=5))
    assert isinstance(decision, Refuse)
    assert decision.error.command_type == "update-ui-element"


def test_edit_mode_forwards_code_commands() -> None:
    for data in (
        frame(type="execute-cells", cell_ids=["a"], codes=["1"]),
        frame(type="delete-cells", cell_ids=["a"]),
        frame(type="complete", request_id="r", code="im", cursor=2),
        frame(type="set-config", semantics="strict"),
    ):
        assert isinstance(classify("edit", data), Forward)


def test_edit_mode_handles_host_requests() -> None:
    save = classify("edit", frame(type="save-notebook", cells=[{"id": "a", "source": "x = 1"}], request_id="7"))
    assert isinstance(save, HostRequest)
    assert isinstance(save.message, SaveNotebook)
    assert save.message.cells[0].source == "x = 1" and save.message.request_id == "7"
    restart = classify("edit", frame(type="restart-kernel"))
    assert isinstance(restart, HostRequest) and isinstance(restart.message, RestartKernel)


@pytest.mark.parametrize(
    "data",
    [
        frame(type="stop"),
        frame(type="stopped-ack"),
        frame(type="save-notebook", cells="nope"),
        frame(type="execute-cells", cell_ids="a"),
        frame(type="mystery"),
        b"",
        b"\x92\x01",
    ],
)
def test_edit_mode_refuses_lifecycle_and_malformed_frames(data: bytes) -> None:
    decision = classify("edit", data)
    assert isinstance(decision, Refuse)
    assert decision.error.message
