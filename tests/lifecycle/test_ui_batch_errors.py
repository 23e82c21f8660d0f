"""A bad UI update never takes the good ones merged with it down (issue 16: the flaky run-mode
security test lost a reader's slider value when it was merged with an update naming an
unknown element)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lifecycle import protocol
from tests.lifecycle.harness import KernelHarness, outputs

pytestmark = pytest.mark.timeout(120)

CELLS = {
    "s": "from lifecycle import ui\ns = ui.slider(0, 10, label='n')\ns",
    "d": "doubled = s.value * 2\ndoubled",
}


@pytest.fixture
async def harness() -> AsyncIterator[KernelHarness]:
    """The threaded queue reader only: the gate cell below blocks its thread, which under the
    asyncio reader is the loop this test runs on (the batching code is the same for both)."""
    h = await KernelHarness("threaded").start()
    try:
        yield h
    finally:
        if not h.finished.is_set():
            await h.stop()


@pytest.mark.parametrize("bad", [{"no-such-element": 1}, {"d-no-such": [1], "s/1": None}])
async def test_a_bad_update_in_a_merged_batch_loses_nothing(harness: KernelHarness, bad: dict[str, object]) -> None:
    await harness.execute(CELLS)
    # Hold the control loop in a cell until both updates wait in the UI queue: one batch.
    mark = harness.mark()
    harness.send(protocol.ExecuteCells(cell_ids=["gate"], codes=["import threading\ngate = threading.Event()\ngate.wait(60)"]))
    await harness.wait_for(lambda n: isinstance(n, protocol.CellStatus) and n.cell_id == "gate" and n.status == "running", mark)
    assert harness.kernel is not None
    harness.send(protocol.UpdateUIElement(values={"s/0": 7}))
    harness.send(protocol.UpdateUIElement(values=bad))
    harness.send(protocol.UpdateUIElement(values={"s/0": 4}))
    harness.kernel.globals["gate"].set()
    notes = await harness.wait_for(
        lambda n: isinstance(n, protocol.CellOutput) and n.cell_id == "d" and n.data.get("text/plain") == "8", mark
    )
    assert notes
    errors = [n for n in harness.since(mark) if isinstance(n, protocol.KernelError)]
    assert len(errors) == 1 and "update-ui-element" in errors[0].message, errors  # the bad one, reported alone
    assert harness.kernel.globals["doubled"] == 8 and outputs(harness.since(mark), "d")[-1] == "8"
