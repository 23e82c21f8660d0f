"""Isolation and the command line: ``amphi run dirA/app.py dirB/app.py`` (one process each)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from ..server.harness import WsTab, console_text, of_type, pid_alive
from ..server.test_cli import amphi, read_url
from .harness import write_nb

pytestmark = pytest.mark.timeout(120)


async def test_two_apps_import_their_own_utils(tmp_path: Path) -> None:
    for name in ("dirA", "dirB"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "utils.py").write_text(f"VALUE = {name!r}\n")
        write_nb(tmp_path / name / "app.py", "import utils, os\nprint('value', utils.VALUE, os.getpid())",
                 title=f"Report {name}")
    process = amphi("run", str(tmp_path / "dirA" / "app.py"), str(tmp_path / "dirB" / "app.py"), "--no-browser")
    try:
        url = read_url(process)
        token = url.split("token=")[1]
        base = url.split("/?")[0]
        async with httpx.AsyncClient() as client:
            index = await client.get(url)
            assert index.status_code == 200
            assert "Report dirA" in index.text and "Report dirB" in index.text  # titles
            links = re.findall(r'href="([^"]+)"', index.text)
            assert sorted(links) == ["dirA/app/", "dirB/app/"]
        pids = set()
        for name in ("dirA", "dirB"):
            tab = await WsTab.open(f"{base.replace('http', 'ws', 1)}/{name}/app/ws?token={token}")
            await tab.wait_for(of_type("completed-run"), timeout=60)
            cell = tab.messages[0]["cells"][1]["id"]
            word, value, pid = console_text(tab.messages, cell).split()
            assert (word, value) == ("value", name)
            pids.add(pid)
            await tab.close()
        assert len(pids) == 2  # one OS process per app
    finally:
        process.terminate()
        assert process.wait(30) == 0


async def test_one_notebook_keeps_thread_kernels(tmp_path: Path) -> None:
    """``amphi run one.py`` is still the in-process server: the kernel is a thread of it."""
    path = write_nb(tmp_path / "one.py", "import os\nprint('pid', os.getpid())")
    process = amphi("run", str(path), "--no-browser")
    try:
        url = read_url(process)
        base, token = url.split("/?token=")
        tab = await WsTab.open(f"{base.replace('http', 'ws', 1)}/ws?token={token}")
        await tab.wait_for(of_type("completed-run"), timeout=60)
        assert console_text(tab.messages, tab.messages[0]["cells"][0]["id"]) == f"pid {process.pid}\n"
        await tab.close()
    finally:
        process.terminate()
        assert process.wait(30) == 0


async def test_a_watched_directory_picks_up_added_and_removed_notebooks(tmp_path: Path) -> None:
    write_nb(tmp_path / "first.py", "import os\nprint(os.getpid())", title="First one")
    process = amphi("run", str(tmp_path), "--watch", "--no-browser")
    try:
        url = read_url(process)
        base, token = url.split("/?token=")
        async with httpx.AsyncClient() as client:
            assert "First one" in (await client.get(url)).text
            write_nb(tmp_path / "sub" / "second.py", "print('second')", title="Second one")
            index = (await client.get(url)).text
            assert "Second one" in index and 'href="sub/second/"' in index
            tab = await WsTab.open(f"{base.replace('http', 'ws', 1)}/first/ws?token={token}")
            await tab.wait_for(of_type("completed-run"), timeout=60)
            pid = int(console_text(tab.messages, tab.messages[0]["cells"][1]["id"]))
            (tmp_path / "first.py").unlink()
            assert "First one" not in (await client.get(url)).text
            assert (await client.get(f"{base}/first/?token={token}")).status_code == 404
            await asyncio.wait_for(tab.closed.wait(), 30)  # its readers' sessions end
            for _ in range(200):
                if not pid_alive(pid):
                    break
                await asyncio.sleep(0.05)
            assert not pid_alive(pid)  # the removed notebook's app process is stopped
            await tab.close()
    finally:
        process.terminate()
        assert process.wait(30) == 0
