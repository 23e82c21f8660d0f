"""The real ``amphi edit`` / ``amphi run`` command lines as subprocesses: URL, signals, errors."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from lifecycle.notebook import Cell, Notebook, write_notebook

from .harness import WsTab, console_text, cookie_header, of_type, shm_segments

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[3]
URL = re.compile(r"http://127\.0\.0\.1:(\d+)/(\?token=[A-Za-z0-9_-]+)?")


def amphi(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "subprocess_host.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )


def read_url(process: subprocess.Popen[str]) -> str:
    """The first stdout line (the test's timeout bounds the wait)."""
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise AssertionError(f"no URL printed; stderr: {process.stderr.read() if process.stderr else ''}")
    return line.strip()


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize(("mode", "signum"), [("edit", signal.SIGTERM), ("edit", signal.SIGINT), ("run", signal.SIGTERM)])
async def test_signal_stops_the_server_and_every_kernel(tmp_path: Path, mode: str, signum: int) -> None:
    path = tmp_path / "nb.py"
    source = "from lifecycle.virtual_files import publish\nprint(publish(b'abc' * 1000, 'f.bin'))"
    write_notebook(path, Notebook(cells=[Cell(id="c0", kind="code", source=source)]))
    process = amphi(mode, str(path), "--no-browser", "--port", "0")
    try:
        url = read_url(process)
        match = URL.fullmatch(url)
        assert match is not None and match.group(2), url
        async with httpx.AsyncClient() as http:
            page = await http.get(url)
            assert page.status_code == 200
            tab = await WsTab.open(f"ws://127.0.0.1:{match.group(1)}/ws", cookie_header(http))
            cell = (await tab.wait_for(of_type("notebook")))["cells"][0]["id"]
            ready = await tab.wait_for(of_type("kernel-ready"))
            if mode == "edit":
                await tab.send({"type": "execute-cells", "cell_ids": [cell], "codes": [source]})
                assert ready["pid"] != process.pid
            await tab.wait_for(of_type("completed-run"))
            file_url = console_text(tab.messages, cell).strip()
            assert (await http.get(f"http://127.0.0.1:{match.group(1)}/{file_url}")).content == b"abc" * 1000
            if mode == "edit":
                assert shm_segments(ready["pid"])  # the kernel's segment exists meanwhile
            children = descendants(process.pid)
            started = time.monotonic()
            process.send_signal(signum)
            assert process.wait(timeout=30) == 0
            print(f"\n{mode} server stopped {time.monotonic() - started:.2f} s after {signal.Signals(signum).name}")
            await tab.closed.wait()
            await tab.close()
        stderr = process.stderr.read() if process.stderr else ""
        assert "Traceback" not in stderr, stderr
        assert all(gone(child) for child in children), [c.pid for c in children if not gone(c)]
        assert not psutil.pid_exists(ready["pid"]) or gone(psutil.Process(ready["pid"]))
        assert not shm_segments(ready["pid"], process.pid)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_no_token_and_given_token(tmp_path: Path) -> None:
    path = tmp_path / "nb.py"
    process = amphi("edit", str(path), "--no-browser", "--port", "0", "--no-token")
    try:
        url = read_url(process)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), url
        async with httpx.AsyncClient() as http:
            assert (await http.get(url)).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert path.exists()  # created
    process = amphi("edit", str(path), "--no-browser", "--port", "0", "--token", "s3cret")
    try:
        url = read_url(process)
        assert url.endswith("/?token=s3cret")
        async with httpx.AsyncClient() as http:
            assert (await http.get(url.replace("s3cret", "other"))).status_code == 403
            assert (await http.get(url)).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_non_loopback_without_a_token_warns(tmp_path: Path) -> None:
    path = tmp_path / "nb.py"
    process = amphi("edit", str(path), "--no-browser", "--port", "0", "--no-token", "--host", "0.0.0.0")
    try:
        url = read_url(process)
        assert url.startswith("http://127.0.0.1:")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    stderr = process.stderr.read() if process.stderr else ""
    assert "warning" in stderr and "without an access token" in stderr


def test_startup_errors_are_one_line(tmp_path: Path) -> None:
    missing = amphi("run", str(tmp_path / "missing.py"), "--no-browser")
    out, err = missing.communicate(timeout=30)
    assert missing.returncode == 1 and out == ""
    assert err.strip() == f"amphi: error: no such notebook: {tmp_path / 'missing.py'}"
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    broken = amphi("edit", str(bad), "--no-browser")
    out, err = broken.communicate(timeout=30)
    assert broken.returncode == 1 and err.startswith("amphi: error: cannot open") and "Traceback" not in err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = amphi("edit", str(tmp_path / "nb.py"), "--no-browser", "--port", str(port))
        out, err = taken.communicate(timeout=30)
    assert taken.returncode == 1 and "cannot listen" in err and "Traceback" not in err
