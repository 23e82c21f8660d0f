"""``pyodide_host.session`` on CPython: the parts that do not need Pyodide (frames in and out,
restart on cancellation, stdin without isolation, the installer adapter), on an ordinary
asyncio loop.  The same session runs in Pyodide in ``test_session.py``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest

from lifecycle import context, protocol
from lifecycle.kernel_lifecycle import KernelArgs
from pyodide_host.session import NO_ISOLATION_MESSAGE, Session, create_session, default_args

pytestmark = pytest.mark.timeout(60)


class Page:
    """Stands in for the page: collects frames, decodes them."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def send(self, frame: bytes) -> None:
        assert isinstance(frame, bytes)
        self.frames.append(frame)

    @property
    def notes(self) -> list[Any]:
        return [protocol.decode_notification(f) for f in self.frames]

    def mark(self) -> int:
        return len(self.frames)

    async def wait_for(self, predicate: Callable[[Any], bool], since: int = 0, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            for note in self.notes[since:]:
                if predicate(note):
                    return note
            if time.monotonic() > deadline:
                raise TimeoutError(f"no matching notification in {self.notes[since:]!r}")
            await asyncio.sleep(0.001)

    async def run(self, session: Session, cells: dict[str, str]) -> list[Any]:
        mark = self.mark()
        session.handle_frame(protocol.encode(protocol.ExecuteCells(cell_ids=list(cells), codes=list(cells.values()))))
        await self.wait_for(lambda n: isinstance(n, protocol.CompletedRun), mark)
        return self.notes[mark:]


@pytest.fixture
async def started() -> AsyncIterator[tuple[Session, Page]]:
    page = Page()
    session = Session(page.send)
    session.start()
    await page.wait_for(lambda n: isinstance(n, protocol.KernelReady))
    try:
        yield session, page
    finally:
        await session.close()


def test_default_args_are_the_pyodide_hosts() -> None:
    args = default_args()
    assert (args.console, args.virtual_files, args.mode, args.install_main) == ("replace", "in_memory", "edit", True)
    assert default_args("run").mode == "run"


async def test_frames_in_and_out(started: tuple[Session, Page]) -> None:
    session, page = started
    ready = page.notes[0]
    assert isinstance(ready, protocol.KernelReady)
    assert "stdin" not in ready.capabilities and "interrupt" not in ready.capabilities
    notes = await page.run(session, {"a": "x = 2", "b": "x * 21"})
    assert [n.data["text/plain"] for n in notes if isinstance(n, protocol.CellOutput)] == ["42"]
    notes = await page.run(session, {"c": "import sys\nprint('captured', file=sys.stdout)"})
    assert "".join(n.text for n in notes if isinstance(n, protocol.CellConsole)) == "captured\n"


async def test_frames_before_ready_are_kept_in_order() -> None:
    page = Page()
    session = Session(page.send)
    frame = protocol.encode(protocol.ExecuteCells(cell_ids=["a"], codes=["1 + 1"]))
    session.handle_frame(memoryview(frame))  # before start: queued raw
    session.start()
    try:
        await page.wait_for(lambda n: isinstance(n, protocol.CompletedRun))
        kinds = [type(n).__name__ for n in page.notes]
        assert kinds[0] == "KernelReady"
    finally:
        await session.close()


async def test_input_without_isolation_raises_the_explanation(started: tuple[Session, Page]) -> None:
    session, page = started
    notes = await page.run(session, {"ask": "input('? ')"})
    (error,) = [n for n in notes if isinstance(n, protocol.CellError)]
    assert error.ename == "StdinUnavailableError" and error.evalue == NO_ISOLATION_MESSAGE


async def test_input_with_wait_reply() -> None:
    page = Page()
    asked: list[protocol.InputRequest] = []

    def wait_reply(request: protocol.InputRequest) -> str:
        asked.append(request)
        return "Ada"

    session = Session(page.send, wait_reply=wait_reply, interrupt_available=True)
    session.start()
    try:
        ready = await page.wait_for(lambda n: isinstance(n, protocol.KernelReady))
        assert {"stdin", "interrupt"} <= set(ready.capabilities)
        notes = await page.run(session, {"ask": "name = input('who? ')\nname"})
        assert [n.data["text/plain"] for n in notes if isinstance(n, protocol.CellOutput)] == ["'Ada'"]
        assert [(r.cell_id, r.prompt) for r in asked] == [("ask", "who? ")]
        assert any(isinstance(n, protocol.InputRequest) for n in notes)
    finally:
        await session.close()


async def test_restart_tears_down_on_cancellation_and_starts_fresh(started: tuple[Session, Page]) -> None:
    session, page = started
    await page.run(session, {"a": "kept = 1", "f": "from lifecycle.virtual_files import publish\nu = publish(b'abc', 'a.txt')"})
    old_kernel, old_runtime = session.kernel, session.runtime
    assert old_kernel is not None and old_runtime is not None
    mark = page.mark()
    session.handle_frame(protocol.encode(protocol.ExecuteCells(cell_ids=["slow"], codes=["import asyncio\nawait asyncio.sleep(3600)"])))
    await page.wait_for(lambda n: isinstance(n, protocol.CellStatus) and n.cell_id == "slow" and n.status == "running", mark)
    mark = page.mark()
    session.handle_frame(msgspec.msgpack.encode({"type": "restart-kernel", "request_id": "r"}))
    await page.wait_for(lambda n: isinstance(n, protocol.UnknownNotification) and n.type == "kernel-restarted", mark)
    assert old_runtime.torn_down and old_kernel.closed
    assert old_runtime.context not in context._alive
    assert old_runtime.virtual_files.closed and len(old_runtime.virtual_files) == 0
    assert [k for k in old_kernel.globals if k != "__builtins__"] == []
    assert session.kernel is not old_kernel and session.generation == 2
    notes = await page.run(session, {"probe": "kept"})
    assert [n.ename for n in notes if isinstance(n, protocol.CellError)] == ["NameError"]


async def test_frames_sent_during_restart_reach_the_new_kernel(started: tuple[Session, Page]) -> None:
    session, page = started
    session.restart()
    notes = await page.run(session, {"after": "'new kernel'"})
    assert [n.data["text/plain"] for n in notes if isinstance(n, protocol.CellOutput)] == ["'new kernel'"]


async def test_save_notebook_answered_and_garbage_reported(started: tuple[Session, Page]) -> None:
    session, page = started
    mark = page.mark()
    session.handle_frame(msgspec.msgpack.encode({"type": "save-notebook", "request_id": "s"}))
    saved = await page.wait_for(lambda n: isinstance(n, protocol.UnknownNotification), mark)
    assert msgspec.msgpack.decode(saved.raw)["ok"] is False
    mark = page.mark()
    session.handle_frame(b"\xc1")
    await page.wait_for(lambda n: isinstance(n, protocol.KernelError), mark)
    mark = page.mark()
    session.handle_frame("not bytes")  # never raises: answered with a kernel-error
    error = await page.wait_for(lambda n: isinstance(n, protocol.KernelError), mark)
    assert "str" in error.message or "bytes" in error.message


async def test_installer_is_awaited(started: tuple[Session, Page]) -> None:
    calls: list[list[str]] = []

    async def fake_install(packages: list[str]) -> tuple[list[str], dict[str, str]]:
        calls.append(packages)
        await asyncio.sleep(0)
        return packages[:1], {p: "nope" for p in packages[1:]}

    page = Page()
    session = Session(page.send, installer=fake_install)
    session.start()
    try:
        await page.wait_for(lambda n: isinstance(n, protocol.KernelReady))
        session.handle_frame(protocol.encode(protocol.InstallPackages(packages=["a", "b"], request_id="i")))
        result = await page.wait_for(lambda n: isinstance(n, protocol.PackagesInstalled))
        assert (result.request_id, result.installed, result.failed) == ("i", ["a"], {"b": "nope"})
        assert calls == [["a", "b"]]
    finally:
        await session.close()


async def test_micropip_installer_refuses_options_without_importing_micropip() -> None:
    session = Session(lambda frame: None)
    installed, failed = await session.install_packages(["--index-url=http://evil", "x y"])
    assert installed == [] and set(failed) == {"--index-url=http://evil", "x y"}


async def test_create_session_with_python_callables() -> None:
    page = Page()
    session = create_session(page.send, wait_reply=None, index_urls=["https://example.invalid/simple"], mode="run")
    try:
        await page.wait_for(lambda n: isinstance(n, protocol.KernelReady))
        assert session.args == KernelArgs(mode="run", console="replace", virtual_files="in_memory", install_main=True)
        assert session.index_urls == ["https://example.invalid/simple"]
        from pyodide_host.session import current_session

        assert current_session() is session
    finally:
        await session.close()
