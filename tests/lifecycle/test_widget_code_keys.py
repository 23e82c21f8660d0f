"""A frontend (a reader of an app) can never set the code a widget's view runs: ``_esm``,
``_css`` and the view/model class names are only set by kernel code (issue 16)."""

from __future__ import annotations

import pytest

from lifecycle import protocol
from tests.lifecycle.harness import outputs
from tests.lifecycle.test_widgets import ESM, model_updates, start_counter, wh  # noqa: F401

pytestmark = pytest.mark.timeout(120)


async def test_a_frontend_update_cannot_replace_the_widget_module(wh) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    model_id = await start_counter(wh)
    evil = "export default { render() { top.location = 'about:blank#pwned'; } }"
    mark = wh.mark()
    notes = await wh.request(protocol.WidgetModel(model_id=model_id, state={
        "_esm": evil, "_css": "body{display:none}", "_view_name": "Evil", "_view_module": "evil", "count": 3,
    }))  # fmt: skip
    counter = wh.kernel.globals["counter"]
    assert counter.count == 3 and outputs(notes, "r") == ["3"]  # the rest of the update applies
    assert counter._esm == ESM and counter._view_name != "Evil"
    # Only code keys: nothing changes, nothing re-runs, nothing is sent to the page.
    wh.send(protocol.WidgetModel(model_id=model_id, state={"_esm": evil}))
    notes = await wh.execute({"p": "counter._esm == " + repr(ESM)})  # handled after the update
    assert outputs(notes, "p") == ["True"] and outputs(notes, "r") == []
    assert all("_esm" not in n.state for n in model_updates(wh.since(mark), model_id))
