"""``push-virtual-files`` (:mod:`pyodide_host.file_push`) on the Pyodide session, run on
CPython: once the page asks, every virtual file's bytes follow its creation as a
``virtual-file-data`` frame, after the ``virtual-file`` notice and before any output naming
it; files that exist already are sent at once; a restarted kernel's files too.  The same
session code runs in Chromium in ``test_virtual_files.py``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import pytest

from lifecycle import protocol
from pyodide_host.file_push import PUSH_COMMAND, PUSH_FRAME
from pyodide_host.session import Session

pytestmark = pytest.mark.timeout(60)


class Page:
    """Collects the session's frames as plain msgpack maps (host frames included)."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def send(self, frame: bytes) -> None:
        self.frames.append(msgspec.msgpack.decode(frame))

    def types(self, since: int = 0) -> list[str]:
        return [f["type"] for f in self.frames[since:]]

    async def wait_for(self, kind: str, since: int = 0, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for frame in self.frames[since:]:
                if frame["type"] == kind:
                    return frame
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {kind} frame in {self.types(since)}")
            await asyncio.sleep(0.002)

    async def run(self, session: Session, cells: dict[str, str]) -> int:
        mark = len(self.frames)
        session.handle_frame(protocol.encode(protocol.ExecuteCells(cell_ids=list(cells), codes=list(cells.values()))))
        await self.wait_for("completed-run", mark)
        return mark


PUSH = msgspec.msgpack.encode({"type": PUSH_COMMAND})
PUBLISH = (
    "from lifecycle.virtual_files import publish\n"
    "url = publish(bytes(range(256)) * 5, 'data.bin')\n"
    "from lifecycle.display import html\n"
    "html(f'<a href=\"{url}\" download>data</a>')\n"
)


async def test_files_are_pushed_in_order_only_once_asked() -> None:
    page = Page()
    session = Session(page.send)
    session.start()
    try:
        await page.wait_for("kernel-ready")
        mark = await page.run(session, {"a": PUBLISH})
        assert "virtual-file" in page.types(mark) and PUSH_FRAME not in page.types(mark)  # not asked yet

        # Asking sends the file that exists already (cell a's), then every new one.
        mark = len(page.frames)
        session.handle_frame(PUSH)
        pushed = await page.wait_for(PUSH_FRAME, mark)
        assert pushed["data"] == bytes(range(256)) * 5 and pushed["filename"] == "data.bin"
        assert pushed["mimetype"] == "application/octet-stream" and pushed["size"] == 1280

        mark = await page.run(session, {"a": PUBLISH.replace("data.bin", "again.bin")})
        frames = page.frames[mark:]
        kinds = [f["type"] for f in frames]
        created = [f for f in frames if f["type"] == "virtual-file" and not f.get("released")]
        released = [f for f in frames if f["type"] == "virtual-file" and f.get("released")]
        assert [f["url"] for f in released] == [pushed["url"]]  # the re-run released the old file
        (new,) = created
        data_at = next(i for i, f in enumerate(frames) if f["type"] == PUSH_FRAME)
        output_at = kinds.index("cell-output")
        assert kinds.index("virtual-file") < data_at < output_at  # bytes before the output naming them
        assert frames[data_at]["url"] == new["url"] and new["url"].endswith("-again.bin")
        assert new["url"] in frames[output_at]["data"]["text/html"]

        # Asking twice changes nothing (no second copy of the files).
        mark = len(page.frames)
        session.handle_frame(PUSH)
        await page.run(session, {"b": "1 + 1"})
        assert PUSH_FRAME not in page.types(mark)

        # A restarted kernel (new store) keeps pushing.
        mark = len(page.frames)
        session.handle_frame(msgspec.msgpack.encode({"type": "restart-kernel", "request_id": "r1"}))
        await page.wait_for("kernel-restarted", mark)
        mark = await page.run(session, {"c": PUBLISH.replace("data.bin", "fresh.bin")})
        assert [f["url"].rsplit("-", 1)[1] for f in page.frames[mark:] if f["type"] == PUSH_FRAME] == ["fresh.bin"]
    finally:
        await session.close()


async def test_push_asked_before_the_kernel_starts() -> None:
    page = Page()
    session = Session(page.send)
    session.handle_frame(PUSH)  # the islands page sends it before its first run
    session.handle_frame(protocol.encode(protocol.ExecuteCells(cell_ids=["a"], codes=[PUBLISH])))
    session.start()
    try:
        await page.wait_for("completed-run")
        kinds = page.types()
        assert kinds.count(PUSH_FRAME) == 1 and kinds.index(PUSH_FRAME) < kinds.index("cell-output")
    finally:
        await session.close()
