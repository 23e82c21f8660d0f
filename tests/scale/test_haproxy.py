"""3 server instances behind HAProxy, 3 apps, 30 readers (10 per app) over WebSocket.

The tests of this module share one deployment and its readers and run in order: affinity,
then the failure of one instance, then the clean end.
"""

from __future__ import annotations

import asyncio
import glob
import time
from collections import Counter
from typing import Any

import httpx
import psutil
import pytest
import pytest_asyncio

from subprocess_host.apps.wire import pid_alive

from .conftest import APPS, GRACE, PRINT_CELL
from .haproxy import UI_MIME, Deployment, Reader, app_sessions, port_open, reap

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

READERS_PER_APP = 10


class Page:
    """A reader, its slider and the value it set last."""

    def __init__(self, reader: Reader, base: int) -> None:
        self.reader = reader
        self.element = ""
        self.cell = ""
        self.value = base

    async def open(self, client: httpx.AsyncClient) -> None:
        await self.reader.load_page(client)
        await self.reader.connect()
        snapshot = await self.reader.wait_for(lambda m: m.get("type") == "notebook")
        self.cell = snapshot["cells"][PRINT_CELL]["id"]
        await self.reader.wait_for(lambda m: m.get("type") == "completed-run", timeout=180)
        output = await self.reader.wait_for(lambda m: m.get("type") == "cell-output" and UI_MIME in m.get("data", {}))
        self.element = output["data"][UI_MIME]["id"]
        await self.move(self.value)

    async def move(self, value: int, timeout: float = 60) -> None:
        """Set the slider and wait for the print cell to show it (on this connection)."""
        self.value = value
        await self.reader.send({"type": "update-ui-element", "values": {self.element: value}})
        expected = f"{self.reader.app} {value}\n"
        deadline = time.monotonic() + timeout
        while not self.reader.console(self.cell, self.reader.connections).endswith(expected):
            assert time.monotonic() < deadline, self.reader.console(self.cell)[-200:]
            await asyncio.sleep(0.02)

    @property
    def instance(self) -> str:
        return self.reader.served_by[-1][1]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pages(deployment: Deployment) -> Any:
    pages = [Page(Reader(deployment.base, app), 1000 * (n + 1))
             for n, app in enumerate(a for a in APPS for _ in range(READERS_PER_APP))]
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(p.open(client) for p in pages))
    yield pages
    await asyncio.gather(*(p.reader.close() for p in pages), return_exceptions=True)


async def test_affinity(deployment: Deployment, pages: list[Page]) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        for page in pages:  # a reload: the cookie brings it to the same instance
            await page.reader.load_page(client)
    for page in pages:
        served = {who for _what, who in page.reader.served_by}
        assert len(served) == 1, page.reader.served_by  # page, WebSocket upgrade, page again
        assert [w for w, _ in page.reader.served_by] == ["page", "ws", "page"]
        assert page.reader.cookies.get("SERVERID") == page.instance
    assert set(Counter(p.instance for p in pages)) == {"i1", "i2", "i3"}  # the balancer spreads readers
    async with httpx.AsyncClient(timeout=30) as client:
        for instance in deployment.instances:  # /health: no token, nothing but the id
            health = await client.get(f"http://127.0.0.1:{instance.port}/health")
            assert health.status_code == 200 and health.json() == {"status": "ok", "instance": instance.id}
            assert health.headers["x-served-by"] == instance.id
    sessions = await asyncio.to_thread(app_sessions, deployment.registry)
    assert len(sessions) == 3  # one app process per app, shared by the 3 instances
    held = {sid for ids in sessions.values() for sid in ids}
    assert {p.reader.session_ids[0] for p in pages} == held and len(held) == 30


async def test_instance_failure(deployment: Deployment, pages: list[Page]) -> None:
    victim = Counter(p.instance for p in pages).most_common(1)[0][0]
    moved = [p for p in pages if p.instance == victim]
    others = [p for p in pages if p.instance != victim]
    before = {id(p): p.reader.session_ids[-1] for p in pages}
    killed_at = time.monotonic()
    await asyncio.to_thread(deployment.instance(victim).kill)

    async def resume(page: Page) -> float:
        reader = page.reader
        await asyncio.wait_for(reader.closed.wait(), 30)
        await reader.reconnect(deadline=killed_at + 30)
        connection = reader.connections
        value = page.value
        # The replay: the slider's value and the print cell's output, from the app process.
        await reader.wait_for(lambda m: m.get("_connection") == connection and m.get("type") == "ui-element-value"
                              and m.get("element_id") == page.element and m.get("value") == value, timeout=30)
        deadline = time.monotonic() + 30
        while reader.console(page.cell, connection) != f"{reader.app} {value}\n":
            assert time.monotonic() < deadline, reader.console(page.cell, connection)
            await asyncio.sleep(0.02)
        return time.monotonic() - killed_at

    async def keep_going(page: Page) -> None:
        await page.move(page.value + 1)

    times, _ = await asyncio.gather(asyncio.gather(*(resume(p) for p in moved)),
                                    asyncio.gather(*(keep_going(p) for p in others)))
    print(f"\nfailover: {len(moved)} readers of {victim} resumed; slowest {max(times):.2f} s, "
          f"median {sorted(times)[len(times) // 2]:.2f} s after kill -9")
    for page in moved:
        reader = page.reader
        assert reader.session_ids[-1] == before[id(page)]  # the same session, no fresh one
        assert page.instance != victim and reader.cookies["SERVERID"] == page.instance
        new = [m for m in reader.messages if m["_connection"] == reader.connections]
        assert [m["type"] for m in new[:2]] == ["notebook", "resume-session"]
        first = next(m for m in reader.messages if m["type"] == "notebook")
        assert [c["id"] for c in new[0]["cells"]] == [c["id"] for c in first["cells"]]  # cells named alike
        assert any(m.get("type") == "cell-output" and UI_MIME in m.get("data", {}) for m in new)  # outputs intact
        assert not [m for m in new if m.get("type") in ("kernel-died", "app-restarted")]
        assert not [m for m in new if m.get("type") == "cell-status" and m.get("status") == "running"]  # no re-run
        await page.move(page.value + 1)  # the resumed session is live
    for page in others:  # no gap: same connection, same instance, same session
        assert not page.reader.closed.is_set() and page.reader.connections == 1
        assert {w for _, w in page.reader.served_by} == {page.instance}
        assert page.reader.session_ids == [before[id(page)]]
    sessions = await asyncio.to_thread(app_sessions, deployment.registry)
    assert sorted(sid for ids in sessions.values() for sid in ids) == sorted(before.values())  # none lost


async def test_clean_end(deployment: Deployment, pages: list[Page]) -> None:
    entries = list((deployment.registry).glob("*.json"))
    import json

    apps = [json.loads(p.read_text()) for p in entries if p.name != "client-key.json"]
    pids = [a["pid"] for a in apps]
    endpoints = [a["endpoints"]["endpoints"] for a in apps]
    assert len(pids) == 3
    await asyncio.gather(*(p.reader.close() for p in pages))
    await asyncio.to_thread(deployment.stop)
    assert [i.proc.returncode for i in deployment.instances if i.proc is not None].count(0) == 2  # SIGTERM: clean
    deadline = time.monotonic() + 4 * GRACE + 30  # sessions' grace, then the apps' idle grace
    while any(pid_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, [pid for pid in pids if pid_alive(pid)]
        await asyncio.sleep(0.2)
    for pid in pids:
        reap(pid)
        assert not glob.glob(f"/dev/shm/amphi_{pid:x}_*")
    assert not [p for p in deployment.registry.glob("*.json") if p.name != "client-key.json"]
    ports = {deployment.haproxy.port, *(i.port for i in deployment.instances)}
    ports |= {int(e.rpartition(":")[2]) for ep in endpoints for e in ep.values()}
    ours = {*pids, *(i.proc.pid for i in deployment.instances if i.proc is not None)}
    assert deployment.haproxy.proc is not None
    ours.add(deployment.haproxy.proc.pid)
    # A port found open again belongs to another program of this busy machine, never to ours.
    holders = {c.pid for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port in ports and c.pid}
    assert not holders & ours
    assert not [pid for pid in ours if pid_alive(pid)]
    assert not [port for port in ports if port_open(port) and not holders]
