"""The real ``amphi edit|run`` command line as a subprocess, for fault tests.

:class:`AmphiServer` starts it on a random port with a known token (optionally with a
file-size limit: ``RLIMIT_FSIZE`` with ``SIGXFSZ`` ignored, so a write past the limit fails
with ``EFBIG`` as on a full disk instead of killing the process), reads its URL, and on exit
stops it and checks that no process it started is left.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from tests.subprocess_host.server.harness import WsTab, cookie_header

REPO = Path(__file__).resolve().parents[2]
TOKEN = "fault-token-0123456789abcdef"
URL = re.compile(r"http://127\.0\.0\.1:(\d+)/")


def file_size_limit(max_bytes: int) -> Callable[[], None]:
    """A ``preexec_fn``: files this process (and its children) write stop at ``max_bytes``
    with ``EFBIG`` (``SIGXFSZ`` ignored, an ignored signal stays ignored across ``exec``)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


class AmphiServer:
    """One ``amphi <mode> <notebook>`` process."""

    def __init__(self, mode: str, notebook: Path, *more: Path, preexec: Callable[[], None] | None = None,
                 port: int = 0) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.log = notebook.parent / f"amphi-{mode}-{time.monotonic_ns()}.log"
        self._log = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "subprocess_host.cli", mode, str(notebook), *map(str, more), "--no-browser",
             "--port", str(port), "--token", TOKEN],
            stdout=subprocess.PIPE, stderr=self._log, text=True, env=env, cwd=REPO, preexec_fn=preexec,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        match = URL.match(line)
        if match is None:
            self.kill()
            raise AssertionError(f"no URL printed ({line!r}); log:\n{self.log.read_text()}")
        self.port = int(match.group(1))
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/?token={TOKEN}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def ws_url(self, prefix: str = "", **query: str) -> str:
        params = {"token": TOKEN, **query}
        return f"ws://127.0.0.1:{self.port}{prefix}/ws?" + "&".join(f"{k}={v}" for k, v in params.items())

    async def tab(self, http: httpx.AsyncClient | None = None, prefix: str = "", **query: str) -> WsTab:
        """A WebSocket tab (with the client's cookies if given); ``prefix``: an app's path
        (``/name``) when serving several notebooks."""
        headers = cookie_header(http) if http is not None else None
        return await WsTab.open(self.ws_url(prefix, **query), headers, max_keep_bytes=1 << 16)

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self._log.close()

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, wait; returns the exit status (kills it if it does not stop)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        self._log.close()
        return self.process.returncode

    def __enter__(self) -> AmphiServer:
        return self

    def __exit__(self, *exc: object) -> None:
        children = self.descendants()
        try:
            self.stop()
        finally:
            self.kill()
        wait_gone(children)


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(processes: list[psutil.Process], timeout: float = 20) -> None:
    """Wait until every process has exited (the timeout bounds a hang); assert it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(gone(p) for p in processes):
        time.sleep(0.05)
    left = [p.pid for p in processes if not gone(p)]
    assert not left, f"orphan processes left: {left}"
