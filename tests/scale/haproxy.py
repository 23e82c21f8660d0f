"""Harness of the scale tests: real HAProxy in front of real server instances, and readers.

* :func:`render_config`: ``deploy/haproxy.cfg`` with the test's ports (its ``bind`` line and
  its ``server`` lines replaced, everything else kept: the tests run the shipped config).
* :class:`HAProxy`: Debian's ``haproxy`` started in the foreground (``-db``) by the test.
* :class:`Instance`: one server instance, ``python -m subprocess_host.cli run DIR/
  --instance-id ID --app-directory REG ...`` under uvicorn, as a subprocess; ``extra_args``
  choose the provisioner (the Ray tests pass ``--provisioner ray --ray-address ...``).
* :class:`Deployment`: N instances behind one HAProxy.
* :class:`Reader`: what a page does over HTTP and WebSocket through the balancer: it loads the
  app's HTML page (cookies kept, ``X-Served-By`` recorded), opens the WebSocket with the
  cookies, learns its session id (``resume-session``) and reconnects with ``?resume=<id>``
  as the page's transport does.
* :func:`app_sessions`: the sessions each shared app process holds (a ``ping`` over its
  CURVE-authenticated ``mgmt`` socket, with the directory's client key).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psutil
import zmq
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "haproxy.cfg"
UI_MIME = "application/vnd.amphikernel.ui+json"


def haproxy_binary() -> str:
    """Debian's haproxy (installed by ``deploy/install-haproxy.sh`` from ``make setup``)."""
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
    if found is None:
        raise RuntimeError("haproxy is not installed: run `bash deploy/install-haproxy.sh` (make setup does)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def become_subreaper() -> None:
    """Make this process the reaper of orphaned descendants (app processes whose launching
    instance was killed), so they do not stay zombies under a PID 1 that does not reap."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def leave_subreaper() -> None:
    """Undo :func:`become_subreaper` and reap the finished orphans this process adopted (Ray
    agents, app processes), so later test packages see neither the reaper role (a kernel
    whose host dies must go to PID 1, not stay a zombie of pytest) nor zombies of ours."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(36, 0, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER off
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if child.status() == psutil.STATUS_ZOMBIE:
                reap(child.pid)


def reap(pid: int) -> None:
    """Reap ``pid`` if it is a finished child of this process (no-op otherwise)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def render_config(front_port: int, servers: list[tuple[str, int]], template: str | None = None) -> str:
    """``deploy/haproxy.cfg`` bound on ``front_port`` with one ``server`` line per
    ``(instance id, port)`` (same options as the template's first server line)."""
    text = template if template is not None else TEMPLATE.read_text(encoding="utf-8")
    out: list[str] = []
    placed = False
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["bind"]:
            out.append(f"    bind 127.0.0.1:{front_port}")
        elif words[:1] == ["server"]:
            if not placed:
                options = " ".join(_without_cookie(words[3:]))
                out.extend(f"    server {name} 127.0.0.1:{port} {options} cookie {name}".rstrip()
                           for name, port in servers)
                placed = True
        else:
            out.append(line)
    if not placed:
        raise ValueError("the HAProxy template has no server line")
    return "\n".join(out) + "\n"


def _without_cookie(words: list[str]) -> list[str]:
    out, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word == "cookie":
            skip = True
        else:
            out.append(word)
    return out


class HAProxy:
    """``haproxy -db -f <config>`` in the foreground of a subprocess."""

    def __init__(self, config: str, workdir: Path) -> None:
        self.path = workdir / "haproxy.cfg"
        self.path.write_text(config, encoding="utf-8")
        self.log = open(workdir / "haproxy.log", "wb")  # noqa: SIM115
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = int(next(w for w in config.split() if w.startswith("127.0.0.1:")).rpartition(":")[2])

    def start(self, timeout: float = 20) -> None:
        check = subprocess.run([haproxy_binary(), "-c", "-f", str(self.path)], capture_output=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        self.proc = subprocess.Popen([haproxy_binary(), "-db", "-f", str(self.path)], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start: {(self.path.parent / 'haproxy.log').read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


class Instance:
    """One server instance (``amphi run``) as a subprocess (see the module docstring)."""

    def __init__(self, instance_id: str, apps: Path, registry: Path, workdir: Path, *, grace: float,
                 extra_args: list[str] | None = None) -> None:
        self.id = instance_id
        self.port = free_port()
        self.args = [sys.executable, "-m", "subprocess_host.cli", "run", str(apps), "--no-token",
                     "--port", str(self.port), "--instance-id", instance_id, "--app-directory", str(registry),
                     "--session-grace", str(grace), *(extra_args or [])]
        self.log_path = workdir / f"instance-{instance_id}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                         cwd=str(ROOT), env=env)

    def wait_started(self, timeout: float = 90) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"instance {self.id} did not start: {self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """``kill -9``."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


class Deployment:
    """``count`` instances (ids ``i1``...) behind HAProxy, sharing app processes through the
    registry directory ``registry``."""

    def __init__(self, apps: Path, workdir: Path, *, count: int = 3, grace: float = 8.0,
                 extra_args: list[str] | None = None) -> None:
        self.registry = workdir / "registry"
        self.instances = [Instance(f"i{n}", apps, self.registry, workdir, grace=grace, extra_args=extra_args)
                          for n in range(1, count + 1)]
        self.haproxy = HAProxy(render_config(free_port(), [(i.id, i.port) for i in self.instances]), workdir)

    def start(self) -> None:
        for instance in self.instances:
            instance.start()
        for instance in self.instances:
            instance.wait_started()
        self.haproxy.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.haproxy.port}"

    def instance(self, instance_id: str) -> Instance:
        return next(i for i in self.instances if i.id == instance_id)

    def stop(self) -> None:
        self.haproxy.stop()
        for instance in self.instances:
            instance.stop()


def _cookie_pairs(values: list[str]) -> dict[str, str]:
    found = {}
    for value in values:
        name, _, rest = value.partition("=")
        found[name.strip()] = rest.partition(";")[0].strip()
    return found


class Reader:
    """One page of app ``app`` through the balancer at ``base`` (see the module docstring)."""

    def __init__(self, base: str, app: str) -> None:
        self.base, self.app = base, app
        self.cookies: dict[str, str] = {}
        self.served_by: list[tuple[str, str]] = []
        """(what, X-Served-By) of every HTTP response and WebSocket upgrade."""
        self.messages: list[dict[str, Any]] = []
        self.session_ids: list[str] = []
        self.ws: ClientConnection | None = None
        self.closed = asyncio.Event()
        self.connections = 0
        self._task: asyncio.Task[None] | None = None

    def _cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    async def load_page(self, client: httpx.AsyncClient) -> httpx.Response:
        response = await client.get(f"{self.base}/{self.app}/", headers=self._cookie_header())
        client.cookies.clear()  # this reader's cookies are kept here, sent by hand
        assert response.status_code == 200, response.text[:500]
        self.cookies.update(_cookie_pairs(response.headers.get_list("set-cookie")))
        self.served_by.append(("page", response.headers["x-served-by"]))
        return response

    async def connect(self) -> None:
        """Open the WebSocket (``?resume=<id>`` once the session is known)."""
        url = self.base.replace("http://", "ws://", 1) + f"/{self.app}/ws"
        if self.session_ids:
            url += f"?resume={self.session_ids[-1]}"
        ws = await connect(url, additional_headers=self._cookie_header(), max_size=None, open_timeout=10)
        assert ws.response is not None
        self.cookies.update(_cookie_pairs(ws.response.headers.get_all("Set-Cookie")))
        self.served_by.append(("ws", ws.response.headers["X-Served-By"]))
        self.ws = ws
        self.connections += 1
        self.closed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read(ws, self.closed))

    async def _read(self, ws: ClientConnection, closed: asyncio.Event) -> None:
        try:
            async for frame in ws:
                assert isinstance(frame, bytes)
                message = msgspec.msgpack.decode(frame)
                if message.get("type") == "resume-session":
                    self.session_ids.append(message["id"])
                message["_connection"] = self.connections
                self.messages.append(message)
        except Exception:
            pass
        finally:
            closed.set()

    async def reconnect(self, deadline: float) -> float:
        """Reconnect as the page does (backoff from 50 ms, at most 1 s) until the socket
        opens; returns the monotonic time it opened."""
        delay = 0.05
        while True:
            try:
                await self.connect()
                return time.monotonic()
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(msgspec.msgpack.encode(message))

    async def wait_for(self, predicate: Any, since: int = 0, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        index = since
        while True:
            while index < len(self.messages):
                message = self.messages[index]
                index += 1
                if predicate(message):
                    return message
            if time.monotonic() > deadline:
                raise TimeoutError(f"reader of {self.app}: no such message in {timeout} s "
                                   f"(last: {[m.get('type') for m in self.messages[-8:]]})")
            await asyncio.sleep(0.02)

    def console(self, cell_id: str, connection: int | None = None) -> str:
        return "".join(m["text"] for m in self.messages if m.get("type") == "cell-console"
                       and m["cell_id"] == cell_id and (connection is None or m["_connection"] == connection))

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


def app_sessions(registry: Path) -> dict[str, list[str]]:
    """Sessions held by each app process registered in ``registry``: notebook -> ids."""
    from subprocess_host.apps import wire
    from subprocess_host.apps.directory import LocalDirectory

    directory = LocalDirectory(registry)
    public, secret = directory.client_keypair()
    found: dict[str, list[str]] = {}
    ctx = zmq.Context()
    try:
        for entry in directory.entries().values():
            sock = ctx.socket(zmq.DEALER)
            sock.linger = 0
            sock.curve_serverkey = entry["endpoints"]["public_key"].encode("ascii")
            sock.curve_publickey, sock.curve_secretkey = public, secret
            sock.connect(entry["endpoints"]["endpoints"]["mgmt"])
            sock.send(wire.encode_mgmt(wire.Ping(request_id=1)))
            if sock.poll(10_000):
                status = wire.decode_mgmt_message(sock.recv())
                found[entry["notebook"]] = list(getattr(status, "sessions", []))
            sock.close(0)
    finally:
        ctx.term()
    return found
