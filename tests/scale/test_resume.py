"""One instance (no balancer): resuming a session, the grace period, the browser-key check."""

from __future__ import annotations

import asyncio
import glob
import time
from pathlib import Path

import httpx
import pytest

from subprocess_host.apps import wire
from subprocess_host.apps.directory import LocalDirectory
from subprocess_host.apps.wire import pid_alive

from ..subprocess_host.apps.harness import builder, serving_apps
from .conftest import PRINT_CELL, write_apps
from .haproxy import UI_MIME, Instance, Reader, app_sessions, become_subreaper, reap

pytestmark = pytest.mark.timeout(180)


async def _open(reader: Reader) -> tuple[str, str]:
    async with httpx.AsyncClient(timeout=30) as client:
        await reader.load_page(client)
    await reader.connect()
    snapshot = await reader.wait_for(lambda m: m.get("type") == "notebook")
    await reader.wait_for(lambda m: m.get("type") == "completed-run", timeout=120)
    output = await reader.wait_for(lambda m: m.get("type") == "cell-output" and UI_MIME in m.get("data", {}))
    return output["data"][UI_MIME]["id"], snapshot["cells"][PRINT_CELL]["id"]


async def _console_is(reader: Reader, cell: str, text: str, connection: int) -> None:
    deadline = time.monotonic() + 60
    while not reader.console(cell, connection).endswith(text):
        assert time.monotonic() < deadline, reader.console(cell, connection)
        await asyncio.sleep(0.02)


async def test_resume_within_grace_and_stop_after_it(tmp_path: Path) -> None:
    app = builder(None, session_grace=2.0, instance_id="solo").with_app("/alpha", write_apps(tmp_path) / "alpha.py").build()
    async with serving_apps(app) as server:
        base = f"http://127.0.0.1:{server.port}"
        reader = Reader(base, "alpha")
        element, cell = await _open(reader)
        assert reader.served_by == [("page", "solo"), ("ws", "solo")]
        await reader.send({"type": "update-ui-element", "values": {element: 42}})
        await _console_is(reader, cell, "alpha 42\n", 1)
        session = reader.session_ids[0]
        await reader.close()

        await reader.connect()  # ?resume=<id>: the same session, replayed by the app process
        await reader.wait_for(lambda m: m["_connection"] == 2 and m.get("type") == "ui-element-value"
                              and m.get("value") == 42)
        await _console_is(reader, cell, "alpha 42\n", 2)
        assert reader.session_ids == [session, session]
        assert not [m for m in reader.messages if m["_connection"] == 2 and m.get("type") == "cell-status"
                    and m.get("status") == "running"]  # nothing ran again
        await reader.send({"type": "update-ui-element", "values": {element: 43}})
        await _console_is(reader, cell, "alpha 43\n", 2)

        thief = Reader(base, "alpha")  # another browser key cannot take the session over
        thief.session_ids.append(session)
        await thief.connect()
        await thief.wait_for(lambda m: m.get("type") == "completed-run", timeout=120)
        assert thief.session_ids[-1] != session
        assert not [m for m in thief.messages if m.get("type") == "ui-element-value" and m.get("value") in (42, 43)]
        await thief.close()

        await reader.close()
        instance = server.app.pool.instances["/alpha"]
        deadline = time.monotonic() + 60  # grace 2 s: then the app stops the session
        while True:
            status = await asyncio.to_thread(server.call, instance.link.request(wire.Ping()))
            if session not in status.sessions:
                break
            assert time.monotonic() < deadline, status.sessions
            await asyncio.sleep(0.2)

        await reader.connect()  # too late: a fresh session, announced with a new id
        await reader.wait_for(lambda m: m["_connection"] == 3 and m.get("type") == "completed-run", timeout=120)
        assert reader.session_ids[-1] != session
        await reader.close()


async def test_sessions_of_a_killed_instance_end_after_the_grace(tmp_path: Path) -> None:
    """``kill -9`` of the only instance, no reader comes back: the app process stops the
    session once the instance's heartbeats are missing for the grace period, then exits."""
    become_subreaper()
    registry = tmp_path / "registry"
    instance = Instance("lone", write_apps(tmp_path / "apps"), registry, tmp_path, grace=2.0)
    instance.start()
    try:
        await asyncio.to_thread(instance.wait_started)
        reader = Reader(f"http://127.0.0.1:{instance.port}", "beta")
        await _open(reader)
        held = await asyncio.to_thread(app_sessions, registry)
        assert [reader.session_ids[0]] in held.values()
        pids = [entry["pid"] for entry in LocalDirectory(registry).entries().values()]
        assert len(pids) == 1
        await asyncio.to_thread(instance.kill)
        await reader.close()
        deadline = time.monotonic() + 60
        while pid_alive(pids[0]):  # grace for the session, then for the idle app
            assert time.monotonic() < deadline, await asyncio.to_thread(app_sessions, registry)
            await asyncio.sleep(0.2)
        reap(pids[0])
        assert not LocalDirectory(registry).entries()
        assert not glob.glob(f"/dev/shm/amphi_{pids[0]:x}_*")
    finally:
        instance.stop()
