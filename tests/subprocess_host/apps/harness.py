"""Test helpers: the multi-app server under a real uvicorn in a thread of the test process.

:class:`AppsThread` serves an :class:`~subprocess_host.apps.asgi.AppServer` on 127.0.0.1 with a
random port in its own thread and event loop (the same uvicorn settings as ``amphi run``).
Reader tabs are :class:`tests.subprocess_host.server.harness.WsTab`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn

from lifecycle.notebook import Cell, Notebook, write_notebook
from subprocess_host.apps.asgi import AppServer, AppServerBuilder
from subprocess_host.server.runner import _Server, bind_socket

from ..server.harness import NO_BUNDLE, TOKEN

UI_MIME = "application/vnd.amphikernel.ui+json"


def write_nb(path: Path, *sources: str, title: str | None = None) -> Path:
    """A percent notebook with these code cells (and a markdown title first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cells = [Cell(id=f"m{path.stem}", kind="markdown", source=f"# {title}")] if title else []
    cells += [Cell(id=f"c{i}", kind="code", source=s) for i, s in enumerate(sources)]
    write_notebook(path, Notebook(cells=cells))
    return path


def builder(token: str | None = TOKEN, **options: Any) -> AppServerBuilder:
    options.setdefault("web_dist", NO_BUNDLE)
    return AppServerBuilder(token, **options)


class AppsThread:
    """An :class:`AppServer` served by uvicorn in a background thread."""

    def __init__(self, app: AppServer) -> None:
        self.app = app
        self.socket = bind_socket("127.0.0.1", 0)
        self.port = self.socket.getsockname()[1]
        self.server = _Server(uvicorn.Config(app, lifespan="on", log_config=None, access_log=False,
                                             ws="websockets-sansio", ws_per_message_deflate=False))
        self.loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name="test-amphi-apps", daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            serving = self.loop.create_task(self.server.serve(sockets=[self.socket]))
            while not self.server.started and not serving.done():
                await asyncio.sleep(0.01)
            self._started.set()
            try:
                await serving
            finally:
                await self.app.close()

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc
        finally:
            self.socket.close()
            self._started.set()

    def start(self) -> None:
        self.thread.start()
        if not self._started.wait(30) or not self.server.started:
            raise RuntimeError(f"server did not start: {self.error!r}")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)
        if self.thread.is_alive():
            raise RuntimeError("server thread did not stop")
        if self.error is not None:
            raise RuntimeError(f"server failed: {self.error!r}")

    def url(self, path: str = "/", token: str | None = TOKEN) -> str:
        return f"http://127.0.0.1:{self.port}{path}" + (f"?token={token}" if token else "")

    def ws_url(self, app: str, token: str | None = TOKEN) -> str:
        return self.url(f"{app}/ws", token).replace("http://", "ws://", 1)

    def call(self, coro: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the server's event loop (from the test's loop: in a thread)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@contextlib.asynccontextmanager
async def serving_apps(app: AppServer) -> AsyncIterator[AppsThread]:
    server = AppsThread(app)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
