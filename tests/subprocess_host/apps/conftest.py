"""Every test of the app server must leave no app process (or template) behind."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psutil
import pytest


def _app_processes() -> set[int]:
    found = set()
    for process in psutil.process_iter(["pid", "cmdline"]):
        line = " ".join(process.info["cmdline"] or ())
        if "subprocess_host.apps.zygote" in line or "subprocess_host.apps.process" in line:
            found.add(process.info["pid"])
    return found


@pytest.fixture(autouse=True)
def no_leftover_app_processes() -> Iterator[None]:
    before = _app_processes()  # other sessions' servers on this machine are not ours
    yield
    deadline = time.monotonic() + 15
    while (left := _app_processes() - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"app processes left behind: {sorted(left)}"
