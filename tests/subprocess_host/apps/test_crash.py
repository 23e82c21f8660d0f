"""Failure: app processes killed with SIGKILL under load; clean-up at the end."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import threading
from pathlib import Path

import psutil
import pytest

from ..server.harness import WsTab, of_type, pid_alive, shm_segments
from .harness import UI_MIME, builder, serving_apps, write_nb

pytestmark = pytest.mark.timeout(600)

APPS = ("alpha", "beta", "gamma")
READERS = 10
KILLS = 20


def since(tab: WsTab, mark: int, kind: str) -> list[dict]:
    return [m for m in tab.messages[mark:] if m.get("type") == kind]


async def test_kill_9_twenty_times_under_load(tmp_path: Path) -> None:
    me = psutil.Process()
    await asyncio.to_thread(lambda: None)  # this loop's own worker thread exists before the baseline
    threads_before = {t.name for t in threading.enumerate()}
    connections_before = len(me.net_connections())
    b = builder()
    for name in APPS:
        write_nb(tmp_path / f"{name}.py", f"APP = {name!r}",
                 "from lifecycle.virtual_files import publish\nf = publish(b'x' * 4096, 'f.bin')",
                 "from lifecycle import ui\ns = ui.slider(0, 10**9, value=0)\ns",
                 "print(APP, s.value)")
        b.with_app(f"/{name}", tmp_path / f"{name}.py")
    pids: set[int] = set()
    async with serving_apps(b.build()) as server:
        pool = server.app.pool
        tabs: dict[str, list[WsTab]] = {a: [await WsTab.open(server.ws_url(f"/{a}")) for _ in range(READERS)] for a in APPS}
        for tab in (t for group in tabs.values() for t in group):
            await tab.wait_for(of_type("completed-run"), timeout=120)
        stop_load = asyncio.Event()

        async def load() -> None:  # every reader keeps moving its slider
            value = 0
            while not stop_load.is_set():
                for group in tabs.values():
                    for tab in group:
                        outputs = [m for m in tab.messages if m.get("type") == "cell-output" and UI_MIME in m["data"]]
                        if outputs:
                            value += 1
                            await tab.send({"type": "update-ui-element", "values": {outputs[-1]["data"][UI_MIME]["id"]: value}})
                await asyncio.sleep(0.05)

        loader = asyncio.get_running_loop().create_task(load())
        rng = random.Random(14)
        for _ in range(KILLS):
            victim = rng.choice(APPS)
            instance = pool.instances[f"/{victim}"]
            pids.update(i.pid for i in pool.instances.values())
            marks = {a: [len(t.messages) for t in group] for a, group in tabs.items()}
            os.kill(instance.pid, signal.SIGKILL)
            for tab, mark in zip(tabs[victim], marks[victim]):
                notice = await tab.wait_for(of_type("app-restarted"), since=mark, timeout=60)
                assert "this app restarted" in notice["message"]
                died = await tab.wait_for(of_type("kernel-died"), since=mark, timeout=60)
                assert "this app restarted" in died["reason"]
                # a respawned app: a fresh kernel that runs the notebook again
                await tab.wait_for(of_type("kernel-ready"), since=mark, timeout=120)
                await tab.wait_for(of_type("completed-run"), since=mark, timeout=120)
            new = pool.instances[f"/{victim}"]
            assert new.pid != instance.pid and not pid_alive(instance.pid)
            assert not shm_segments(instance.pid)  # the dead process's segments are unlinked
            for app in APPS:
                if app == victim:
                    continue
                for tab, mark in zip(tabs[app], marks[app]):  # other apps: unaffected
                    for kind in ("app-restarted", "kernel-died", "kernel-error"):
                        assert not since(tab, mark, kind), (app, kind)
        stop_load.set()
        await loader
        for group in tabs.values():  # every session still answers
            for tab in group:
                outputs = [m for m in tab.messages if m.get("type") == "cell-output" and UI_MIME in m["data"]]
                mark = len(tab.messages)
                await tab.send({"type": "update-ui-element", "values": {outputs[-1]["data"][UI_MIME]["id"]: 999999999}})
                await tab.wait_for(lambda m: m.get("type") == "cell-console" and m["text"].endswith(" 999999999\n"), since=mark, timeout=60)
        assert pool.restarts == KILLS
        pids.update(i.pid for i in pool.instances.values())
        for tab in (t for group in tabs.values() for t in group):
            await tab.close()
    # the server is stopped: nothing of any app process is left
    assert not [p for p in pids if pid_alive(p)]
    assert not [c for c in me.children() if c.status() == psutil.STATUS_ZOMBIE]
    assert not shm_segments(*pids)
    assert {t.name for t in threading.enumerate()} <= threads_before
    assert len(me.net_connections()) <= connections_before
