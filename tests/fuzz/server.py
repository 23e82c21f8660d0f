"""Fuzz the local server: its WebSocket (edit and run mode) and its HTTP endpoints.

The server is the real ``amphi edit|run`` command in a subprocess (``--port 0`` and a known
token).  WebSocket frames are drawn from the kernel commands and the host-level messages
(``save-notebook`` bodies included) and mutated byte by byte; each frame is first classified
host-side with the server's own policy (:func:`subprocess_host.server.policy.classify`) so the
run knows how many must be refused.  Valid edit-mode frames that would rewrite the session
(``execute-cells``, ``delete-cells``, ``set-config``, ``install-packages``, ``restart-kernel``)
are not sent; in run mode every frame is sent (a reader may send anything: the server must
refuse all but UI updates, input replies and interrupts).

HTTP requests are raw bytes on fresh TCP connections: methods, paths (traversal, encoded,
NUL, huge), query strings, headers (Host, Cookie, Origin, huge or invalid ones), ``Range`` and
``If-Range`` headers against a real virtual file, and bodies.  A 5xx answer counts as a crash.

After each run the server must still serve: ``GET /`` answers 200 and a new tab gets a real
cell's output (edit: runs ``6 * 7``; run: the notebook's cells run for the new reader).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from websockets.asyncio.client import connect

from lifecycle import protocol
from subprocess_host.server import messages
from subprocess_host.server.policy import Forward, HostRequest, Refuse, classify
from tests.fuzz import corpus
from tests.fuzz.kernel import SKIPPED_COMMANDS
from tests.fuzz.report import SEED, FuzzReport, MemoryWatch, Stopwatch

TOKEN = "fuzz-token-0123456789abcdef"
REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = '''\
# %%
from lifecycle import ui
from lifecycle.virtual_files import publish
s = ui.slider(0, 10, value=3)
s

# %%
doubled = s.value * 2
doubled

# %%
url = publish(bytes(range(256)) * 40, "data.bin")
print(url)
'''
HANDLER_CRASH_MARKERS = (
    "Exception in ASGI application",
    "error while handling a frame",
    "could not handle the frame",
)
SESSION_KEY = "fuzzsessionkey0123456789abcdefgh"
LIVENESS_TIMEOUT = 90.0
MAX_SAVES = 40


@dataclass
class Server:
    """A running ``amphi`` server process."""

    process: subprocess.Popen[str]
    base: str
    log: Path
    notebook: Path

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def ws_url(self, **query: str) -> str:
        params = {"token": TOKEN, **query}
        return self.base.replace("http://", "ws://") + "/ws?" + "&".join(f"{k}={v}" for k, v in params.items())

    def handler_errors(self) -> int:
        """Server handlers that raised: uvicorn's unhandled-exception log lines and the
        WebSocket reader's catch-all.  (A kernel's ``error while handling <command>`` log
        is the protocol's documented answer to a valid command it cannot apply, not a crash.)"""
        text = self.log.read_text(errors="replace")
        return sum(text.count(marker) for marker in HANDLER_CRASH_MARKERS)


@contextlib.asynccontextmanager
async def running_server(mode: str, folder: Path) -> AsyncIterator[Server]:
    """Start ``amphi <mode>`` on a fresh copy of :data:`NOTEBOOK` in ``folder``."""
    notebook = folder / "fuzz_nb.py"
    notebook.write_text(NOTEBOOK, encoding="utf-8")
    log = folder / f"server-{mode}.log"
    script = Path(sys.executable).with_name("amphi")
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "subprocess_host.cli"]
    process = subprocess.Popen(
        [*cmd, mode, str(notebook), "--no-browser", "--port", "0", "--token", TOKEN],
        cwd=REPO, stdout=subprocess.PIPE, stderr=log.open("w"), text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        base = await asyncio.to_thread(_read_base, process, 60.0)
        yield Server(process, base, log, notebook)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait, 10)


def _read_base(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("http://"):
            return line.strip().split("?", 1)[0].rstrip("/")
    raise RuntimeError("the server did not print its URL")


class Tab:
    """A WebSocket client that decodes every frame it receives (msgpack maps)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.closed: tuple[int | None, str] | None = None
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                value = msgspec.msgpack.decode(data) if isinstance(data, bytes) else {"type": "text"}
                self.frames.append(value if isinstance(value, dict) else {"type": None})
        except Exception:
            pass
        self.closed = (self.ws.close_code, self.ws.close_reason or "")

    async def wait_for(self, check: Any, timeout: float, since: int = 0) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.frames[since:]:
                if check(frame):
                    return frame
            if self.closed is not None:
                return None
            await asyncio.sleep(0.05)
        return None

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, 10)


@contextlib.asynccontextmanager
async def tab(server: Server, **query: str) -> AsyncIterator[Tab]:
    async with connect(server.ws_url(**query), max_size=None, open_timeout=60) as ws:
        t = Tab(ws)
        try:
            yield t
        finally:
            await t.close()


def _output_text(frame: dict[str, Any], cell_id: str | None = None) -> str | None:
    if frame.get("type") != "cell-output" or (cell_id is not None and frame.get("cell_id") != cell_id):
        return None
    data = frame.get("data")
    return data.get("text/plain") if isinstance(data, dict) else None


async def still_serves(server: Server, mode: str, timeout: float = LIVENESS_TIMEOUT) -> bool:
    """``GET /`` is 200 and a new tab gets a real cell's output."""
    status = await asyncio.to_thread(_get_status, server, f"/?token={TOKEN}")
    if status != 200:
        return False
    async with tab(server) as t:
        if mode == "edit":
            await t.wait_for(lambda f: f.get("type") == "notebook", timeout)
            since = len(t.frames)
            cell = f"live{random.randrange(10**9)}"
            await t.ws.send(protocol.encode(protocol.ExecuteCells(cell_ids=[cell], codes=["6 * 7"])))
            found = await t.wait_for(lambda f: _output_text(f, cell) == "42", timeout, since)
        else:
            found = await t.wait_for(lambda f: _output_text(f) == "6", timeout)
        return found is not None


def _get_status(server: Server, path: str) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


HOST_AND_KERNEL = (*protocol.Command.__args__, messages.SaveNotebook, messages.RestartKernel)
"""What a page may send: kernel commands and host-level messages (the Pyodide worker's fuzz
draws the same, so one run draws them once)."""


def base_frames(count: int, seed: int) -> list[bytes]:
    """Valid-shaped kernel commands and host-level messages."""
    return corpus.drawn_frames(HOST_AND_KERNEL, count, seed)


def verdict(mode: str, frame: bytes, saves: list[int]) -> str:
    """``"bad"`` (the server must refuse it), ``"skip"`` or ``"send"``."""
    decision = classify(mode, frame)  # type: ignore[arg-type]
    if isinstance(decision, Refuse):
        return "bad"
    if mode == "run":
        return "send"
    if isinstance(decision, HostRequest):
        if isinstance(decision.message, messages.SaveNotebook) and saves[0] < MAX_SAVES:
            saves[0] += 1
            return "send"
        return "skip"
    assert isinstance(decision, Forward)
    if isinstance(decision.command, (*SKIPPED_COMMANDS, protocol.Complete)):
        return "skip"
    return "send"


async def fuzz_websocket(mode: str, cases: int, folder: Path, seed: int = SEED, base_count: int = 600) -> FuzzReport:
    """Send ``cases`` fuzz frames on one tab of an ``amphi <mode>`` server."""
    base = base_frames(base_count, seed)
    report = FuzzReport(f"ws:{mode}")
    async with running_server(mode, folder) as server:
        async with tab(server) as warm:  # the kernel is up before measuring
            await warm.wait_for(lambda f: f.get("type") == "kernel-ready", LIVENESS_TIMEOUT)
        saves = [0]
        with MemoryWatch(server.process.pid) as memory, Stopwatch() as clock:
            async with tab(server) as t:
                for kind, frame in corpus.frames(cases * 2, base, seed=seed + 7):
                    if report.cases >= cases or t.closed is not None:
                        break
                    what = verdict(mode, frame, saves)
                    if what == "skip":
                        continue
                    report.cases += 1
                    report.kinds[kind] += 1
                    report.bad += what == "bad"
                    await t.ws.send(frame)
                    if report.cases % 200 == 0:
                        await asyncio.sleep(0)
                report.notes["tab_closed"] = t.closed
                report.notes["answers"] = len(t.frames)
                report.notes["refusals"] = sum(f.get("type") == "kernel-error" for f in t.frames)
            if server.process.poll() is not None:
                report.crashes += 1
            elif not await still_serves(server, mode):
                report.hangs += 1
        report.crashes += server.handler_errors()
        report.seconds = clock.seconds
        memory.fill(report)
        report.notes["saves"] = saves[0]
        report.notes["notebook_parses"] = _notebook_parses(server.notebook)
    return report


def _notebook_parses(path: Path) -> bool:
    from lifecycle.notebook import NotebookFormatError, read_notebook

    try:
        read_notebook(path)
    except NotebookFormatError:
        return False
    return True


# ------------------------------------------------------------------------ HTTP

_PATHS = [
    "/", "/ws", "/@file/", "/@file/x", "/static/", "/static/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
    "/@file/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "//etc/passwd", "/index.html", "/assets/", "/@file/{id}-data.bin",
    "/@file/{id}-..%2f..%2fetc%2fpasswd", "/@file/{id}-data.bin/../../x", "/@file/{id}-%00", "/?file=../../etc/passwd",
    "/?file=/etc/passwd", "/?file=%00", "/favicon.ico", "/@file/AAAAAAAAAAAAAAAAAAAAAA-data.bin",
]  # fmt: skip
_RANGES = [
    "bytes=0-", "bytes=0-0", "bytes=-1", "bytes=-0", "bytes=5-1", "bytes=0-99999999999999999999999",
    "bytes=10239-", "bytes=10240-", "bytes=0-1,5-6", "bytes=", "bytes=-", "items=0-1", "bytes=abc-def",
    "bytes= 1 - 2 ", "bytes=-99999999999999999999", "bytes=1-2-3", "\x00", "bytes=0-1\r\nX: y",
]  # fmt: skip


def http_request(rng: random.Random, file_id: str, host: str) -> bytes:
    """One raw HTTP/1.1 request (bytes), valid-looking or not."""
    method = rng.choice(["GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "GE T", "\x00"])
    path = (rng.choice(_PATHS) if rng.random() < 0.6 else "/@file/{id}-data.bin").replace("{id}", file_id)
    if rng.random() < 0.2:
        path += "/" + "".join(rng.choice("ab%./\\\x7f~") for _ in range(rng.randrange(1, 40)))
    if rng.random() < 0.03:
        path = "/" + "a" * rng.choice([1000, 9000, 70000])
    query = [f"token={TOKEN}"] if rng.random() < 0.8 else []
    if "?" not in path:
        if rng.random() < 0.7:
            query.append(f"session={SESSION_KEY}")
        if rng.random() < 0.2:
            query.append(rng.choice(["file=../../etc/passwd", "token=", "token=%ff%fe", "session=%00", "a=" + "b" * 5000]))
        path += "?" + "&".join(query) if query else ""
    hosts = [host] * 12 + ["evil.example", "localhost", "", "[::1]:1", host + ":99999"]
    headers = [f"Host: {rng.choice(hosts)}"]
    if rng.random() < 0.6:
        headers.append(f"Range: {rng.choice(_RANGES)}")
    if rng.random() < 0.2:
        etag = '"' + file_id + '"'
        headers.append("If-Range: " + rng.choice([etag, 'W/"x"', "Tue, 1 Jan 2030 00:00:00 GMT", ""]))
    if rng.random() < 0.2:
        headers.append(rng.choice([f"Cookie: amphi_session={SESSION_KEY}; amphi_token=x", "Cookie: ;;;=;", "Origin: http://evil.example",
                                   "Authorization: token " + TOKEN, "Authorization: Bearer", "X-" + "y" * 9000 + ": 1"]))  # fmt: skip
    body = b""
    if method in ("POST", "PUT") or rng.random() < 0.05:
        body = rng.randbytes(rng.randrange(0, 2000))
        headers.append(f"Content-Length: {rng.choice([len(body), len(body), 0, 99999999])}")
    raw = f"{method} {path} HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\nConnection: close\r\n\r\n"
    data = raw.encode("latin-1", "replace") + body
    if rng.random() < 0.05:
        data = corpus.MUTATIONS["bitflip"](rng, data)
    return data


async def _send_http(port: int, data: bytes) -> int:
    """Send one raw request; the response status (0: no parseable answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
            writer.write_eof()  # an incomplete request ends here: the server must answer or close
        try:
            line = await asyncio.wait_for(reader.readline(), 60)
        except asyncio.TimeoutError:
            return -1  # counted as a hang
        except ConnectionError:
            return 0
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader.read(), 60)
        match = re.match(rb"HTTP/1\.[01] (\d{3})", line)
        return int(match.group(1)) if match else 0
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def fuzz_http(cases: int, folder: Path, seed: int = SEED, workers: int = 8) -> FuzzReport:
    """Send ``cases`` raw HTTP requests to an ``amphi edit`` server that serves one virtual file."""
    report = FuzzReport("http")
    async with running_server("edit", folder) as server:
        async with tab(server, session=SESSION_KEY) as t:
            await t.wait_for(lambda f: f.get("type") == "kernel-ready", LIVENESS_TIMEOUT)
            code = "from lifecycle.virtual_files import publish\n" + NOTEBOOK.split("# %%")[3]
            await t.ws.send(protocol.encode(protocol.ExecuteCells(cell_ids=["pub"], codes=[code])))
            printed = await t.wait_for(
                lambda f: f.get("type") == "cell-console" and "@file/" in str(f.get("text")), LIVENESS_TIMEOUT
            )
            assert printed is not None, f"the notebook published no virtual file: {t.frames[-5:]}"
            file_id = str(printed["text"]).split("@file/", 1)[1][:22]
            host = f"127.0.0.1:{server.port}"
            statuses: dict[int, int] = {}
            rng = random.Random(seed)
            requests = [http_request(rng, file_id, host) for _ in range(cases)]
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            for request in requests:
                queue.put_nowait(request)

            async def worker() -> None:
                while not queue.empty():
                    status = await _send_http(server.port, queue.get_nowait())
                    statuses[status] = statuses.get(status, 0) + 1

            with MemoryWatch(server.process.pid) as memory, Stopwatch() as clock:
                await asyncio.gather(*(worker() for _ in range(workers)))
                report.cases = len(requests)
                report.crashes += sum(n for s, n in statuses.items() if s >= 500)
                report.bad = sum(n for s, n in statuses.items() if 400 <= s < 500 or s == 0)
                report.hangs += statuses.get(-1, 0)
                if server.process.poll() is not None:
                    report.crashes += 1
                elif not await still_serves(server, "edit"):
                    report.hangs += 1
            report.notes["statuses"] = dict(sorted(statuses.items()))
            report.notes["file_id"] = file_id
        report.crashes += server.handler_errors()
        report.seconds = clock.seconds
        memory.fill(report)
    return report
