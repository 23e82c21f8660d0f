"""App-server rows of ``python -m benchmarks peers``: several notebooks served as apps by one
server, amphikernel (``amphi run a0.py a1.py a2.py``) beside marimo (its public
``marimo.create_asgi_app().with_app(...)`` builder served by uvicorn), each server in its own
process on the same CPython.

One client (this process, ``websockets``) drives both servers the same way:

* first session of an app: WebSocket connect -> the frame carrying the app's computed marker
  (the output of its only cell) arrives; once per app, right after the server is up;
* later session of the same app: the same, for another reader of an app that already has one.

Each notebook's cell computes its marker (``"mark" + "er-<n>"``) so that the source text sent
to the page never contains it: only the cell's output does.  For marimo the WebSocket is its
documented page endpoint ``/<app>/ws?session_id=...&access_token=...`` (JSON text frames);
ours is ``/<app>/ws?token=...`` (msgpack binary frames).  No marimo code is used or copied:
only its public builder and its page's WebSocket URL.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from websockets.asyncio.client import connect

APPS = 3
LATER = 5
SETTLE = 1.0
"""Seconds a server is left alone after it answers HTTP, before the first session (its
background start-up work, e.g. our warm app-process template, is not a session's cost)."""
TIMEOUT = 120.0

MARIMO_SERVER = """
import sys, uvicorn, marimo
builder = marimo.create_asgi_app(quiet=True, token=sys.argv[2])
for i, path in enumerate(sys.argv[3:]):
    builder = builder.with_app(path=f"/a{i}", root=path)
uvicorn.run(builder.build(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _marker(n: int) -> str:
    return f"marker-{n}-ready"


def _ours_notebook(n: int) -> str:
    return f'# %%\nx = "mark" + "er-{n}-ready"\nx\n'


def _marimo_notebook(n: int) -> str:
    return (
        "import marimo\n\napp = marimo.App()\n\n\n@app.cell\ndef _():\n"
        f'    x = "mark" + "er-{n}-ready"\n    x\n    return\n\n\n'
        'if __name__ == "__main__":\n    app.run()\n'
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}) before it served {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} not served within {timeout:g} s")


class _Server:
    """One app server process serving ``APPS`` notebooks (``a0``...), and its WebSocket URLs."""

    def __init__(self, runtime: str, folder: Path, peer_python: Path, round_index: int) -> None:
        self.runtime = runtime
        self.token = secrets.token_urlsafe(12)
        self.markers = [_marker(round_index * 100 + i) for i in range(APPS)]
        paths = []
        for i in range(APPS):
            path = folder / runtime / f"a{i}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            text = _ours_notebook if runtime == "ours" else _marimo_notebook
            path.write_text(text(round_index * 100 + i))
            paths.append(str(path))
        if runtime == "ours":
            self.process = subprocess.Popen(
                [sys.executable, "-m", "subprocess_host.cli", "run", *paths, "--port", "0", "--token", self.token,
                 "--no-browser"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[1],
            )  # fmt: skip
            assert self.process.stdout is not None
            line = self.process.stdout.readline().decode().strip()
            if not line.startswith("http"):
                self.stop()
                raise RuntimeError(f"amphi run did not start (printed {line!r})")
            self.base = line.split("?")[0].rstrip("/")
            _wait_http(f"{self.base}/health", self.process)
        else:
            port = _free_port()
            self.process = subprocess.Popen(
                [str(peer_python), "-P", "-c", MARIMO_SERVER, str(port), self.token, *paths],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder,
            )  # fmt: skip
            self.base = f"http://127.0.0.1:{port}"
            _wait_http(f"{self.base}/a0/?access_token={self.token}", self.process)

    def ws_url(self, app: int) -> str:
        root = self.base.replace("http://", "ws://", 1) + f"/a{app}/ws"
        if self.runtime == "ours":
            return f"{root}?token={self.token}"
        return f"{root}?session_id=s-{secrets.token_hex(6)}&access_token={self.token}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


async def _session(url: str, marker: str) -> float:
    """WebSocket connect -> a frame containing ``marker`` (seconds); the socket is closed."""
    wanted = marker.encode()
    t0 = time.perf_counter()
    async with connect(url, max_size=None, open_timeout=TIMEOUT, ping_interval=None) as ws:
        async with asyncio.timeout(TIMEOUT):
            async for frame in ws:
                data = frame if isinstance(frame, bytes) else frame.encode()
                if wanted in data:
                    return time.perf_counter() - t0
    raise RuntimeError(f"the connection closed before {marker!r} arrived")


async def _drive(server: _Server) -> tuple[list[float], list[float]]:
    await asyncio.sleep(SETTLE)  # both servers finish their own start-up work first
    first = [await _session(server.ws_url(i), server.markers[i]) for i in range(APPS)]
    later = [await _session(server.ws_url(i % APPS), server.markers[i % APPS]) for i in range(LATER)]
    return first, later


def measure(peer_python: Path, rounds: int) -> dict[str, dict[str, list[float]]]:
    """``{"ours"|"marimo": {"first": [...], "later": [...]}}`` in seconds, the two runtimes
    interleaved round by round (a fresh server each round)."""
    out: dict[str, dict[str, list[float]]] = {r: {"first": [], "later": []} for r in ("ours", "marimo")}
    with tempfile.TemporaryDirectory(prefix="amphi-peer-apps-") as tmp:
        for index in range(rounds):
            for runtime in ("ours", "marimo"):
                server = _Server(runtime, Path(tmp) / f"r{index}", peer_python, index)
                try:
                    first, later = asyncio.run(_drive(server))
                finally:
                    server.stop()
                out[runtime]["first"].extend(first)
                out[runtime]["later"].extend(later)
    return out
