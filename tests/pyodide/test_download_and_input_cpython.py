"""The Pyodide session's side of browser edit mode, on CPython: the download keeps the notebook
file's own text (:func:`lifecycle.notebook.splice.splice_percent`) and an ``input()`` reply
over the limit raises a clear error (the browser runs: tests/browser/test_edit_site_files.py)."""

from __future__ import annotations

import msgspec
import pytest

from lifecycle.notebook import loads_percent
from pyodide_host.jsbridge import STDIN_LIMIT, InputTooLargeError, input_replier
from pyodide_host.session import Session
from tests.lifecycle.test_notebook_splice import HAND_WRITTEN


def test_the_pyodide_session_downloads_the_spliced_file() -> None:
    text = HAND_WRITTEN[0]
    cells = [{"id": c.id, "kind": c.kind, "source": c.source, "name": c.name, "options": c.options} for c in loads_percent(text).cells]
    frame = msgspec.msgpack.encode({"type": "save-notebook", "cells": cells, "request_id": "r"})
    assert Session(lambda f: None, source_text=text).notebook_text(frame) == (text, "")
    plain, problem = Session(lambda f: None).notebook_text(frame)
    assert problem == "" and plain != text and '"""Doc."""' not in plain  # without the file: cells only
    cells[-1]["source"] = "%timeit y * 2"
    frame = msgspec.msgpack.encode({"type": "save-notebook", "cells": cells, "request_id": "r"})
    out, _ = Session(lambda f: None, source_text=text).notebook_text(frame)
    assert out == text.removesuffix("%timeit y\n") + "# %timeit y * 2\n"


def test_an_input_reply_over_the_limit_raises_a_clear_error() -> None:
    from lifecycle.protocol import InputRequest

    request = InputRequest(request_id="input-1", cell_id="c", prompt="", password=False)
    assert input_replier(lambda rid: "fine")(request) == "fine"  # type: ignore[misc]
    with pytest.raises(InputTooLargeError, match=r"16,777,217 bytes .* 16,777,216 bytes \(16 MiB\)") as info:
        input_replier(lambda rid: STDIN_LIMIT + 1)(request)  # type: ignore[misc]
    assert info.value.size == STDIN_LIMIT + 1 and isinstance(info.value, ValueError)
    with pytest.raises(KeyboardInterrupt):
        input_replier(lambda rid: None)(request)  # type: ignore[misc]
