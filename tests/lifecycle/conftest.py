from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.lifecycle.harness import READERS, KernelHarness


@pytest.fixture(params=READERS)
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[KernelHarness]:
    """A started kernel on each queue reader; stopped (and torn down) afterwards."""
    h = await KernelHarness(request.param).start()
    try:
        yield h
    finally:
        if not h.finished.is_set():
            await h.stop()
