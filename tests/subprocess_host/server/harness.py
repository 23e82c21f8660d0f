"""Test helpers: a real uvicorn server in a thread of the test process, and WebSocket tabs.

:class:`ServerThread` runs :class:`subprocess_host.server.runner.ServerRunner` (the same code
``amphi edit``/``amphi run`` use, minus signal handling) on 127.0.0.1 with a random port, in
its own thread and event loop.  :class:`WsTab` is a page: a websockets client that decodes
every msgpack frame it receives into a dict and lets a test wait for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect

from subprocess_host.server.config import ServerConfig, ServerOptions, resolve_options
from subprocess_host.server.messages import peek_type
from subprocess_host.server.runner import ServerRunner

TOKEN = "test-token-0123456789"


NO_BUNDLE = Path(__file__).resolve().parent / "no-bundle"
"""A bundle directory that does not exist: tests get the minimal page unless they ask."""


def make_config(mode: str, notebook: Path, *, token: str | None = TOKEN, **extra: Any) -> ServerConfig:
    """A resolved configuration on 127.0.0.1, random port, no browser, no frontend bundle
    (unless ``web_dist`` is given)."""
    extra.setdefault("web_dist", NO_BUNDLE)
    options = ServerOptions(
        mode=mode,  # type: ignore[arg-type]
        notebook=notebook,
        port=0,
        token=token,
        no_token=token is None,
        open_browser=False,
        **extra,
    )
    return resolve_options(options)


class ServerThread:
    """A server running in a background thread (its own event loop)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.runner = ServerRunner(config)
        self.port = self.runner.bind()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name="test-amphi-server", daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            serving = asyncio.get_running_loop().create_task(self.runner.serve())
            await self.runner.wait_started(serving)
            self._started.set()
            await serving

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start()/stop()
            self._error = exc
        finally:
            self._started.set()

    def start(self, timeout: float = 20) -> None:
        self.thread.start()
        if not self._started.wait(timeout) or self._error is not None or not self.runner.started:
            raise RuntimeError(f"server did not start: {self._error!r}")

    def stop(self, timeout: float = 60) -> None:
        self.runner.request_stop()
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError("server thread did not stop")
        if self._error is not None:
            raise RuntimeError(f"server failed: {self._error!r}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/", **query: str) -> str:
        """``path`` with the token (unless ``token=None`` is wanted: pass ``token=""``)."""
        params = dict(query)
        if self.config.token is not None and "token" not in params:
            params["token"] = self.config.token
        params = {k: v for k, v in params.items() if v != ""}
        text = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.base}{path}" + (f"?{text}" if text else "")

    def ws_url(self, **query: str) -> str:
        return self.url("/ws", **query).replace("http://", "ws://", 1)

    def edit_kernel_pids(self) -> list[int]:
        pids = []
        for session in self.runner.manager.edit_sessions.values():
            pid = getattr(session.kernel, "pid", None)
            if pid is not None:
                pids.append(pid)
        return pids


@contextlib.asynccontextmanager
async def serving(config: ServerConfig) -> AsyncIterator[ServerThread]:
    """Start a :class:`ServerThread`; stop it on exit and check its kernels are gone."""
    server = ServerThread(config)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        pids = server.edit_kernel_pids()
        await asyncio.to_thread(server.stop)
        for pid in pids:
            assert not pid_alive(pid), f"kernel process {pid} survived the server"


def pid_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def shm_segments(*pids: int) -> set[str]:
    """Names of amphikernel shared-memory segments in /dev/shm created by processes ``pids``
    (segments are named ``amphi_<pid in hex>_<random>``; other test runs on the machine may
    own segments of their own, so tests only look at their processes')."""
    prefixes = tuple(f"amphi_{pid:x}_" for pid in pids)
    try:
        return {name for name in os.listdir("/dev/shm") if name.startswith(prefixes)}
    except FileNotFoundError:  # pragma: no cover - not Linux
        return set()


def encode(message: dict[str, Any]) -> bytes:
    return msgspec.msgpack.encode(message)


Predicate = Callable[[dict[str, Any]], bool]


def of_type(kind: str, **fields: Any) -> Predicate:
    """A predicate: a message of this ``type`` whose given fields are equal."""
    return lambda m: m.get("type") == kind and all(m.get(k) == v for k, v in fields.items())


class WsTab:
    """A page's WebSocket: every frame received is decoded and kept in :attr:`messages`."""

    def __init__(self, ws: ClientConnection, max_keep_bytes: int | None = None) -> None:
        self.ws = ws
        self.max_keep_bytes = max_keep_bytes
        self.messages: list[dict[str, Any]] = []
        self.times: list[float] = []
        self.closed = asyncio.Event()
        self._new = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, url: str, headers: dict[str, str] | None = None, max_keep_bytes: int | None = None) -> WsTab:
        """Connect; frames larger than ``max_keep_bytes`` are kept as ``{"type", "size"}``."""
        ws = await connect(url, additional_headers=headers or {}, max_size=None, open_timeout=20)
        return cls(ws, max_keep_bytes)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                assert isinstance(frame, bytes), f"text frame from the server: {frame!r}"
                if self.max_keep_bytes is not None and len(frame) > self.max_keep_bytes:
                    self.messages.append({"type": peek_type(frame), "size": len(frame)})
                else:
                    self.messages.append(msgspec.msgpack.decode(frame))
                self.times.append(time.monotonic())
                self._new.set()
        except Exception:
            pass
        finally:
            self.closed.set()
            self._new.set()

    async def send(self, message: dict[str, Any] | bytes) -> None:
        await self.ws.send(message if isinstance(message, bytes) else encode(message))

    async def wait_for(self, predicate: Predicate, since: int = 0, timeout: float = 30) -> dict[str, Any]:
        """The first message from index ``since`` on that matches, waiting for it."""
        deadline = time.monotonic() + timeout
        index = since
        while True:
            while index < len(self.messages):
                message = self.messages[index]
                index += 1
                if predicate(message):
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.closed.is_set() and index >= len(self.messages)):
                kinds = [m.get("type") for m in self.messages[since:]][-30:]
                raise TimeoutError(f"no matching message; got {kinds}")
            self._new.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)

    async def run(self, cells: dict[str, str], timeout: float = 60) -> list[dict[str, Any]]:
        """Send ``execute-cells`` and return every message up to its ``completed-run``."""
        mark = len(self.messages)
        await self.send({"type": "execute-cells", "cell_ids": list(cells), "codes": list(cells.values())})
        done = await self.wait_for(lambda m: m.get("type") == "completed-run" and bool(set(cells) & set(m["cell_ids"])), mark, timeout)
        return self.messages[mark : self.messages.index(done) + 1]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


def console_text(messages: list[dict[str, Any]], cell_id: str, stream: str = "stdout") -> str:
    return "".join(m["text"] for m in messages if m.get("type") == "cell-console" and m["cell_id"] == cell_id and m["stream"] == stream)


def results(messages: list[dict[str, Any]], cell_id: str) -> list[str]:
    return [m["data"].get("text/plain") for m in messages if m.get("type") == "cell-output" and m["cell_id"] == cell_id]


async def load_page(server: ServerThread, client: httpx.AsyncClient, **query: str) -> httpx.Response:
    """GET the page with the token; the client keeps the cookies."""
    response = await client.get(server.url("/", **query))
    assert response.status_code == 200, response.text
    return response


def cookie_header(client: httpx.AsyncClient) -> dict[str, str]:
    """The client's cookies as a ``Cookie`` header for a WebSocket handshake."""
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in client.cookies.items())}
