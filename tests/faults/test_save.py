"""Saving loses nothing: atomic writes, a full disk, and a file another program changed.

The server is the real ``amphi edit`` process; tabs are WebSocket clients.  A full disk is a
file-size limit on the server process (``RLIMIT_FSIZE``, ``SIGXFSZ`` ignored): writing past
it fails with ``EFBIG`` exactly where a full disk fails with ``ENOSPC`` (in ``write``, before
the rename), so the same code path runs.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from lifecycle.notebook import Cell, Notebook, read_notebook, write_notebook
from tests.subprocess_host.server.harness import console_text, of_type

from .server import AmphiServer, file_size_limit

pytestmark = pytest.mark.timeout(180)


def write_percent(path: Path, *sources: str) -> Path:
    write_notebook(path, Notebook(cells=[Cell(id=f"c{i}", kind="code", source=s) for i, s in enumerate(sources)]))
    return path


def cells(*sources: str) -> list[dict[str, object]]:
    return [{"id": f"k{i}", "kind": "code", "source": s} for i, s in enumerate(sources)]


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


async def save(tab, cell_list: list[dict[str, object]], request_id: str, **extra: object) -> dict:
    mark = len(tab.messages)
    await tab.send({"type": "save-notebook", "cells": cell_list, "request_id": request_id, **extra})
    return await tab.wait_for(of_type("notebook-saved", request_id=request_id), since=mark, timeout=60)


async def test_a_full_disk_keeps_the_previous_file_and_says_why(tmp_path: Path) -> None:
    path = write_percent(tmp_path / "nb.py", "a = 1")
    limit = 256 * 1024
    with AmphiServer("edit", path, preexec=file_size_limit(limit)) as server:
        tab = await server.tab()
        await tab.wait_for(of_type("kernel-ready"), timeout=60)
        first = await save(tab, cells("a = 2", "print(a)"), "small")
        assert first["ok"] is True, first
        saved_bytes = path.read_bytes()
        assert [c.source for c in read_notebook(path).cells] == ["a = 2", "print(a)"]

        big = "x = '" + "y" * (2 * limit) + "'"
        failed = await save(tab, cells("a = 3", big), "big")
        assert failed["ok"] is False and failed["conflict"] is False
        assert "File too large" in failed["error"] and "unchanged" in failed["error"], failed["error"]
        assert path.read_bytes() == saved_bytes  # the previous file, intact
        assert temp_files(tmp_path) == []  # the partial temporary file was removed

        # The server goes on: a cell runs and a save that fits works.
        run = await tab.run({"k9": "print('after', 6 * 7)"})
        assert console_text(run, "k9") == "after 42\n"
        again = await save(tab, cells("a = 4"), "again")
        assert again["ok"] is True, again
        assert [c.source for c in read_notebook(path).cells] == ["a = 4"]
        await tab.close()


async def test_readers_only_ever_see_a_whole_file(tmp_path: Path) -> None:
    """While the server saves two ~1 MB versions in turn, a reader polling the file only ever
    reads the original or one of them, byte for byte (temp file, fsync, rename)."""
    path = write_percent(tmp_path / "nb.py", "a = 0")
    versions = [cells("a = 1", "s = '" + "p" * 1_000_000 + "'"), cells("a = 2", "s = '" + "q" * 900_000 + "'")]
    seen: set[bytes] = set()
    torn: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            data = path.read_bytes()
            if data not in seen:
                seen.add(data)
            if len(seen) > 3:
                torn.append(len(data))
                return

    with AmphiServer("edit", path) as server:
        tab = await server.tab()
        await tab.wait_for(of_type("notebook"))
        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        try:
            for i in range(12):
                answer = await save(tab, versions[i % 2], f"s{i}")
                assert answer["ok"] is True, answer
        finally:
            stop.set()
            await asyncio.to_thread(thread.join, 30)
        await tab.close()
    assert not torn, f"a reader saw a partial file ({torn})"
    assert 2 <= len(seen) <= 3
    assert temp_files(tmp_path) == []


async def test_a_file_changed_by_another_program_is_never_overwritten_silently(tmp_path: Path) -> None:
    path = write_percent(tmp_path / "nb.py", "a = 1")
    with AmphiServer("edit", path) as server:
        a, b = await server.tab(), await server.tab()
        await a.wait_for(of_type("notebook"))
        assert (await save(a, cells("a = 2"), "mine"))["ok"] is True  # our own save is not a change

        # Another program (an editor, git) rewrites the file.
        theirs = write_percent(tmp_path / "other.py", "a = 'theirs'", "print(a)").read_bytes()
        path.write_bytes(theirs)
        for tab in (a, b):
            notice = await tab.wait_for(of_type("notebook-changed-on-disk"), timeout=30)
            assert notice["path"] == str(path) and notice["deleted"] is False

        # A save is refused and says why; the other program's file stays.
        refused = await save(a, cells("a = 3"), "refused")
        assert refused["ok"] is False and refused["conflict"] is True
        assert "changed on disk" in refused["error"]
        assert path.read_bytes() == theirs

        # A tab that connects now is told too (after its snapshot).
        late = await server.tab()
        await late.wait_for(of_type("notebook-changed-on-disk"), timeout=10)
        assert late.messages[0]["type"] == "notebook"

        # Reload: every tab gets the file's cells; saving works again.
        mark = len(b.messages)
        await a.send({"type": "reload-notebook", "request_id": "r1"})
        snapshot = await b.wait_for(of_type("notebook"), since=mark, timeout=30)
        assert [c["source"] for c in snapshot["cells"]] == ["a = 'theirs'", "print(a)"] and snapshot["saved"] is True
        assert (await save(a, cells("a = 'merged'"), "after-reload"))["ok"] is True
        assert [c.source for c in read_notebook(path).cells] == ["a = 'merged'"]

        # Changed again, then removed: overwrite writes this tab's cells back.
        path.write_text("# %%\nchanged = True\n")
        await a.wait_for(of_type("notebook-changed-on-disk"), since=mark, timeout=30)
        mark = len(a.messages)
        path.unlink()
        gone = await a.wait_for(of_type("notebook-changed-on-disk", deleted=True), since=mark, timeout=30)
        assert gone["path"] == str(path)
        assert (await save(a, cells("a = 5"), "no-file"))["conflict"] is True
        assert not path.exists()
        forced = await save(a, cells("a = 5"), "forced", overwrite=True)
        assert forced["ok"] is True, forced
        assert [c.source for c in read_notebook(path).cells] == ["a = 5"]
        for tab in (a, b, late):
            await tab.close()
