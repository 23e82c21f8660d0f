"""Ctrl-C: SIGINT to the server's process group stops the server and its app processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ..server.harness import WsTab, of_type, pid_alive, shm_segments
from ..server.test_cli import REPO, read_url
from .harness import write_nb

pytestmark = pytest.mark.timeout(120)

CTRL_C_BOUND = 2.0
"""Seconds: the issue's pass/fail bound for a clean exit after Ctrl-C with 3 apps."""


async def test_ctrl_c_to_the_process_group_with_three_apps(tmp_path: Path) -> None:
    files = [write_nb(tmp_path / f"{n}.py", "from lifecycle.virtual_files import publish\nf = publish(b'y' * 100, 'y.bin')\nprint('up')")
             for n in ("one", "two", "three")]
    process = subprocess.Popen(
        [sys.executable, "-m", "subprocess_host.cli", "run", *map(str, files), "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        url = read_url(process)
        base, token = url.split("/?token=")
        tabs = []
        for name in ("one", "two", "three"):
            tab = await WsTab.open(f"{base.replace('http', 'ws', 1)}/{name}/ws?token={token}")
            await tab.wait_for(of_type("completed-run"), timeout=60)
            tabs.append(tab)
        processes = psutil.Process(process.pid).children(recursive=True)
        templates = psutil.Process(process.pid).children()
        assert len(templates) == 1  # the template process; app processes are its forks
        apps = [p for p in templates[0].children() if "resource_tracker" not in " ".join(p.cmdline())]
        assert len(apps) == 3
        pids = [p.pid for p in processes]
        start = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        status = process.wait(30)
        elapsed = time.monotonic() - start
        stderr = process.stderr.read() if process.stderr else ""
        assert status == 0, stderr
        assert "killing it" not in stderr  # stopped by the shutdown handshake, not kill -9
        assert elapsed < CTRL_C_BOUND, elapsed
        assert not [p for p in pids if pid_alive(p)]
        assert not shm_segments(*pids)
        for tab in tabs:
            await tab.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_app_processes_exit_by_themselves_when_the_server_dies(tmp_path: Path) -> None:
    files = [write_nb(tmp_path / f"{n}.py", "print('up')") for n in ("one", "two")]
    process = subprocess.Popen(
        [sys.executable, "-m", "subprocess_host.cli", "run", *map(str, files), "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        url = read_url(process)
        base, token = url.split("/?token=")
        for name in ("one", "two"):
            tab = await WsTab.open(f"{base.replace('http', 'ws', 1)}/{name}/ws?token={token}")
            await tab.wait_for(of_type("completed-run"), timeout=60)
        survivors = psutil.Process(process.pid).children(recursive=True)
        assert len(survivors) >= 3  # the template and two app processes
        process.kill()  # no clean-up by the server at all
        process.wait(30)
        _gone, alive = psutil.wait_procs(survivors, timeout=30)
        assert not alive, [(p.pid, p.ppid(), p.cmdline(), p.threads()) for p in alive]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
