"""Multiplexing: 3 apps x 10 concurrent readers on each app's four shared sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ..server.harness import WsTab, console_text, of_type
from .harness import UI_MIME, AppsThread, builder, serving_apps, write_nb

pytestmark = pytest.mark.timeout(240)

APPS = ("alpha", "beta", "gamma")
READERS = 10
MOVES = 15


def write_apps(root: Path) -> Any:
    b = builder()
    for name in APPS:
        write_nb(root / f"{name}.py", f"APP = {name!r}",
                 "from lifecycle import ui\ns = ui.slider(0, 1000000, value=0)\ns",
                 "print(APP, s.value)")
        b.with_app(f"/{name}", root / f"{name}.py")
    return b.build()


async def open_reader(server: AppsThread, app: str) -> tuple[WsTab, str, str]:
    """A connected reader whose notebook has run: ``(tab, slider element id, print cell id)``."""
    tab = await WsTab.open(server.ws_url(f"/{app}"))
    await tab.wait_for(of_type("completed-run"), timeout=120)
    element = next(m for m in tab.messages if m.get("type") == "cell-output" and UI_MIME in m["data"])
    return tab, element["data"][UI_MIME]["id"], tab.messages[0]["cells"][2]["id"]


async def drive(tab: WsTab, element: str, cell: str, app: str, base: int) -> None:
    """Move the slider ``MOVES`` times without waiting, then wait for the last value."""
    for k in range(1, MOVES + 1):
        await tab.send({"type": "update-ui-element", "values": {element: base + k}})
    last = f"{app} {base + MOVES}\n"
    deadline = asyncio.get_running_loop().time() + 120
    while not console_text(tab.messages, cell).endswith(last):
        assert asyncio.get_running_loop().time() < deadline, console_text(tab.messages, cell)[-200:]
        await asyncio.sleep(0.05)


def check_reader(tab: WsTab, cell: str, app: str, base: int) -> None:
    lines = console_text(tab.messages, cell).splitlines()
    allowed = {f"{app} 0"} | {f"{app} {base + k}" for k in range(1, MOVES + 1)}
    assert set(lines) <= allowed, set(lines) - allowed  # nothing from another session or app
    assert lines[-1] == f"{app} {base + MOVES}"  # the value the kernel ends on is the last sent
    assert not [m for m in tab.messages if m.get("type") in ("kernel-error", "kernel-died")]


async def test_three_apps_ten_readers_each(tmp_path: Path) -> None:
    async with serving_apps(write_apps(tmp_path)) as server:
        readers = await asyncio.gather(*(open_reader(server, app) for app in APPS for _ in range(READERS)))
        plan = [(tab, element, cell, APPS[i // READERS], (i + 1) * 1000) for i, (tab, element, cell) in enumerate(readers)]
        await asyncio.gather(*(drive(*p) for p in plan))
        for tab, _element, cell, app, base in plan:
            check_reader(tab, cell, app, base)
        pool = server.app.pool
        assert sorted(pool.instances) == [f"/{a}" for a in APPS]  # one process per app
        assert len({i.pid for i in pool.instances.values()}) == 3
        counts = [len(i.kernels) for i in pool.instances.values()]
        assert counts == [READERS] * 3  # sessions are kernel threads, not processes
        assert all(len(i.link.sockets) == 4 for i in pool.instances.values())
        await asyncio.gather(*(t.close() for t, *_ in readers))
