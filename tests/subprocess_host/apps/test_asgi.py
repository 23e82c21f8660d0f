"""``create_asgi_app``: mounted inside a Starlette application under uvicorn; dynamic
directories; one error page per app that cannot start."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from subprocess_host import create_asgi_app
from subprocess_host.server.runner import _Server, bind_socket

from ..server.harness import NO_BUNDLE, WsTab, console_text, of_type
from .harness import builder, serving_apps, write_nb

pytestmark = pytest.mark.timeout(180)


async def test_mounted_inside_starlette_under_uvicorn(tmp_path: Path) -> None:
    write_nb(tmp_path / "sales.py", "print('sales', 6 * 7)", title="Sales report")
    (tmp_path / "apps" / "team").mkdir(parents=True)
    write_nb(tmp_path / "apps" / "team" / "board.py", "print('board')", title="Team board")
    notebooks = (create_asgi_app(web_dist=NO_BUNDLE).with_app(path="/sales", notebook=tmp_path / "sales.py")
                 .with_dynamic_directory(path="/apps", directory=tmp_path / "apps").build())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await notebooks.close()  # Starlette does not run a mounted app's lifespan

    host = Starlette(routes=[Route("/", lambda r: PlainTextResponse("host app")), Mount("/nb", app=notebooks)],
                     lifespan=lifespan)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(host, lifespan="on", log_config=None, ws="websockets-sansio"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            assert (await client.get(base + "/")).text == "host app"
            index = await client.get(base + "/nb/")
            assert index.status_code == 200
            assert "Sales report" in index.text and "Team board" in index.text
            assert (await client.get(base + "/nb/sales")).headers["location"] == "/nb/sales/"
            page = await client.get(base + "/nb/sales/")
            assert page.status_code == 200 and '"ws": "ws"' in page.text
            # a notebook added to the dynamic directory later is served too
            write_nb(tmp_path / "apps" / "late.py", "print('late')", title="Late one")
            assert "Late one" in (await client.get(base + "/nb/")).text
        for path, cell, text in (("/nb/sales", 1, "sales 42\n"), ("/nb/apps/team/board", 1, "board\n"),
                                 ("/nb/apps/late", 1, "late\n")):
            tab = await WsTab.open(f"ws://127.0.0.1:{port}{path}/ws")
            await tab.wait_for(of_type("completed-run"), timeout=60)
            assert console_text(tab.messages, tab.messages[0]["cells"][cell]["id"]) == text
            await tab.close()
        pids = [i.pid for i in notebooks.pool.instances.values()]
        assert len(pids) == 3
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 60)
        sock.close()
    assert not notebooks.pool.instances


def never_ready_python(tmp_path: Path) -> str:
    """An "interpreter" that reads its stdin and never prints a ready line."""
    script = tmp_path / "silent-python"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import sys, time; sys.stdin.readline(); time.sleep(60)'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


async def test_one_error_page_per_app(tmp_path: Path) -> None:
    write_nb(tmp_path / "good.py", "print('fine')", title="Good")
    write_nb(tmp_path / "broken.py", "def f(:\n    pass", title="Broken")
    (tmp_path / "bad.ipynb").write_text("{ not json")
    write_nb(tmp_path / "silent.py", "print('never')")
    b = builder(kernel_ready_timeout=2.0)
    for name in ("good", "broken", "missing"):
        b.with_app(f"/{name}", tmp_path / f"{name}.py")
    b.with_app("/bad", tmp_path / "bad.ipynb")
    b.with_app("/silent", tmp_path / "silent.py", python=never_ready_python(tmp_path))
    async with serving_apps(b.build()) as server:
        async with httpx.AsyncClient() as client:
            index = await client.get(server.url("/"))
            assert index.status_code == 200 and "syntax error in cell 2" in index.text
            for name, words in (("broken", "syntax error in cell 2, line 1"), ("missing", "no such notebook"),
                                ("bad", "bad.ipynb"), ("silent", "no ready line in 2 s")):
                page = await client.get(server.url(f"/{name}/"))
                assert page.status_code == 500, (name, page.text)
                assert "cannot start" in page.text and words in page.text, (name, page.text)
            good = await client.get(server.url("/good/"))
            assert good.status_code == 200  # the other apps and the server are fine
        tab = await WsTab.open(server.ws_url("/good"))
        await tab.wait_for(of_type("completed-run"), timeout=60)
        await tab.close()
        assert list(server.app.pool.instances) == ["/good"]
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _is_silent_child(int(p), tmp_path)]


def _is_silent_child(pid: int, tmp_path: Path) -> bool:
    try:
        return "time.sleep(60)" in Path(f"/proc/{pid}/cmdline").read_text() and os.getppid() != pid and \
            Path(f"/proc/{pid}/cwd").resolve() == tmp_path.resolve()
    except OSError:
        return False
