"""Widgets through Jupyter comms (jupyter_client-driven): an anywidget counter's state reaches
the client in ``comm_open`` (target ``jupyter.widget``), a client ``comm_msg`` update reaches
the kernel's model (and re-runs the cells reading the widget), a kernel-side change comes back
as a ``comm_msg`` update, custom messages reach ``on_msg`` handlers, and the control comm
(``jupyter.widget.control``) answers ``request_states``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.jupyter.harness import TIMEOUT, execute, kernel, plain, reply_to

pytest.importorskip("anywidget")
pytestmark = pytest.mark.timeout(180)

COUNTER = """\
import anywidget, traitlets

class Counter(anywidget.AnyWidget):
    _esm = "export default { render({ model, el }) { el.textContent = model.get('count'); } }"
    count = traitlets.Int(0).tag(sync=True)
    received = []

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_msg(lambda widget, content, buffers: self.received.append((content, [bytes(b) for b in buffers])))

counter = Counter()
counter
"""


@pytest.fixture(scope="module")
def kc() -> Iterator[Any]:
    with kernel() as (_km, client):
        yield client


def _send(kc: Any, msg_type: str, content: dict[str, Any], buffers: list[bytes] | None = None) -> str:
    msg = kc.session.msg(msg_type, content)
    kc.session.send(kc.shell_channel.socket, msg, buffers=buffers or [])
    return msg["header"]["msg_id"]


def _wait_for(kc: Any, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if match(msg):
            return msg
    raise AssertionError("no matching iopub message")


def test_anywidget_counter_round_trips_through_comms(kc: Any) -> None:
    shown = execute(kc, COUNTER, "cell-counter")
    assert shown.reply["content"]["status"] == "ok", shown.reply["content"]
    [view] = shown.of_type("display_data")
    model_id = view["content"]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
    opens = {m["content"]["comm_id"]: m for m in shown.of_type("comm_open")}
    opened = opens[model_id]  # (and its layout model's)
    assert {m["content"]["target_name"] for m in opens.values()} == {"jupyter.widget"}
    assert opened["metadata"]["version"].startswith("2.")
    state = opened["content"]["data"]["state"]
    assert state["count"] == 0 and "export default" in state["_esm"]  # inline: no @file/ URL
    reader = execute(kc, "counter.count * 2", "cell-reader")
    slot = reader.of_type("display_data")[0]["content"]["transient"]["display_id"]

    # client -> kernel: the value arrives in the model, and the reading cell re-runs in place.
    msg_id = _send(kc, "comm_msg", {"comm_id": model_id, "data": {"method": "update", "state": {"count": 5},
                                                                   "buffer_paths": []}})  # fmt: skip
    update = _wait_for(kc, lambda m: m["msg_type"] == "update_display_data")
    assert update["parent_header"]["msg_id"] == msg_id
    assert (update["content"]["transient"]["display_id"], plain(update)) == (slot, "10")
    assert plain(execute(kc, "counter.count", "cell-read").of_type("display_data")[0]) == "5"

    # kernel -> client: a kernel-side change is a comm_msg update.
    changed = execute(kc, "counter.count = 7", "cell-set")
    updates = [m["content"]["data"] for m in changed.of_type("comm_msg") if m["content"]["comm_id"] == model_id]
    assert {"method": "update", "state": {"count": 7}, "buffer_paths": []} in updates

    # custom messages with binary buffers reach the widget's on_msg handlers.
    _send(kc, "comm_msg", {"comm_id": model_id, "data": {"method": "custom", "content": {"n": 1}}}, [b"\x00\x01"])
    got = execute(kc, "Counter.received", "cell-received")
    assert plain(got.of_type("display_data")[0]) == "[({'n': 1}, [b'\\x00\\x01'])]"

    # comm_info lists the model; the control comm answers request_states from the latest state.
    msg_id = _send(kc, "comm_info_request", {"target_name": "jupyter.widget"})
    reply = reply_to(kc, msg_id)
    assert reply["content"]["comms"][model_id] == {"target_name": "jupyter.widget"}
    assert set(reply["content"]["comms"]) == set(opens)
    _send(kc, "comm_open", {"comm_id": "control-1", "target_name": "jupyter.widget.control", "data": {}})
    _send(kc, "comm_msg", {"comm_id": "control-1", "data": {"method": "request_states"}})
    states = _wait_for(kc, lambda m: m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == "control-1")
    data = states["content"]["data"]
    assert data["method"] == "update_states" and data["states"][model_id]["count"] == 7

    # A comm to a target the kernel does not know is closed at once.
    _send(kc, "comm_open", {"comm_id": "other-1", "target_name": "no.such.target", "data": {}})
    closed = _wait_for(kc, lambda m: m["msg_type"] == "comm_close")
    assert closed["content"]["comm_id"] == "other-1"

    # Re-running the widget's cell closes the old model's comm.
    rerun = execute(kc, COUNTER, "cell-counter")
    assert model_id in [m["content"]["comm_id"] for m in rerun.of_type("comm_close")]
