"""Attacks on paths and on other sessions' files (real server, with the token: the attacker
is a page of this server or a program that has the URL).

* ``?file=`` (the notebook routes: the page and the WebSocket) cannot leave the main
  notebook's folder: ``..``, absolute paths, encoded separators, NUL, and symlinks inside the
  folder that point outside are all refused, and nothing outside is read or written;
* ``/@file/`` cannot be turned into a path on disk (it names shared-memory or in-memory
  files by id), and its filename part cannot carry a path;
* one session cannot read another session's virtual files, even knowing their URL.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from lifecycle.notebook import Cell, Notebook, write_notebook
from tests.subprocess_host.server.harness import WsTab, console_text, make_config, of_type, serving

pytestmark = pytest.mark.timeout(180)
SECRET = "# %%\nTOP_SECRET = 'do not read me'\n"
PUBLISH = "from lifecycle.virtual_files import publish\nprint(publish(b'session {who} data', 'mine.txt'))"


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """``tmp_path/work/nb.py`` (the main notebook), ``work/sub/ok.py``, and outside the
    folder ``tmp_path/secret.py``; inside it symlinks to the secret file and folder."""
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    write_notebook(work / "nb.py", Notebook(cells=[Cell(id="c0", kind="code", source="x = 1")]))
    (work / "sub" / "ok.py").write_text("# %%\nok = 1\n", encoding="utf-8")
    (tmp_path / "secret.py").write_text(SECRET, encoding="utf-8")
    (tmp_path / "secret.ipynb").write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}', encoding="utf-8")
    os.symlink(tmp_path / "secret.py", work / "link.py")
    os.symlink(tmp_path, work / "up")
    return work / "nb.py"


TRAVERSALS = [
    "../secret.py", "../secret.ipynb", "..%2Fsecret.py", "%2E%2E%2Fsecret.py", "sub/../../secret.py",
    "{outside}", "sub/..%2F..%2Fsecret.py", "/etc/passwd", "%00nb.py", "nb.py%00.txt", "..\\secret.py",
    "~/secret.py", "file:///etc/passwd",
]  # fmt: skip
SYMLINKS = ["link.py", "up/secret.py", "./up/secret.py", "up/work/../secret.py", "sub/../link.py"]


@pytest.mark.parametrize("escapes", [TRAVERSALS, SYMLINKS], ids=["traversal", "symlink"])
async def test_notebook_routes_never_leave_the_notebook_folder(layout: Path, escapes: list[str]) -> None:
    outside = str(layout.parent.parent / "secret.py")
    before = (layout.parent.parent / "secret.py").read_bytes()
    async with serving(make_config("edit", layout)) as server, httpx.AsyncClient() as http:
        ok = await http.get(server.url("/", file="sub/ok.py"))
        assert ok.status_code == 200 and "ok = 1" in ok.text  # a notebook inside is served
        for escape in escapes:
            value = escape.replace("{outside}", outside)
            page = await http.get(server.url("/", file=value))
            assert page.status_code == 404, (value, page.status_code)
            assert "TOP_SECRET" not in page.text and "do not read me" not in page.text
            with pytest.raises(InvalidStatus):  # the handshake is refused before accept
                tab = await WsTab.open(server.ws_url(file=value))
                try:  # (an accepted socket must not show the secret either)
                    snapshot = await tab.wait_for(of_type("notebook"), timeout=20)
                    assert "TOP_SECRET" not in str(snapshot)
                finally:
                    await tab.close()
        # Nothing outside was written (a save would have needed an accepted socket).
        assert (layout.parent.parent / "secret.py").read_bytes() == before


async def test_virtual_file_urls_are_not_paths_on_disk(layout: Path) -> None:
    async with serving(make_config("edit", layout)) as server, httpx.AsyncClient() as http:
        tab = await WsTab.open(server.ws_url(session="k" * 32))
        try:
            messages = await tab.run({"pub": PUBLISH.format(who="A")}, timeout=90)
            url = console_text(messages, "pub").strip()
            file_id = url.split("/", 1)[1][:22]
            assert (await http.get(server.url(f"/{url}", session="k" * 32))).text == "session A data"
            for bad in (f"{file_id}-..%2F..%2Fsecret.py", f"{file_id}-../../secret.py", "..%2F..%2Fsecret.py",
                        f"{file_id}-mine.txt%2F..%2F..%2Fsecret.py", f"{file_id}-%2Fetc%2Fpasswd",
                        "AAAAAAAAAAAAAAAAAAAAAA-..%2Fnb.py", f"{file_id}-mine.txt/../../../secret.py",
                        "..%2F..%2F..%2F..%2Fetc%2Fpasswd", f"{file_id}-%00"):  # fmt: skip
                response = await http.get(server.url(f"/@file/{bad}", session="k" * 32))
                assert response.status_code in (400, 404), (bad, response.status_code)
                assert "TOP_SECRET" not in response.text and "root:" not in response.text
            for bad in ("/static/../../../secret.py", "/static/%2e%2e/%2e%2e/secret.py", "/..%2F..%2Fsecret.py",
                        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd"):  # fmt: skip
                response = await http.get(server.url(bad))
                assert response.status_code in (400, 404), (bad, response.status_code)
                assert "TOP_SECRET" not in response.text and "root:" not in response.text
        finally:
            await tab.close()


@pytest.mark.parametrize("mode", ["edit", "run"])
async def test_one_session_cannot_read_another_sessions_virtual_files(tmp_path: Path, mode: str) -> None:
    """Run mode: two readers, each with its own kernel.  Edit mode: two notebooks, each with
    its own kernel session.  Reader/notebook B knows A's file URL and still gets 404."""
    main = tmp_path / "nb.py"
    source = PUBLISH.format(who="R") if mode == "run" else "x = 1"
    write_notebook(main, Notebook(cells=[Cell(id="c0", kind="code", source=source)]))
    (tmp_path / "other.py").write_text("# %%\ny = 2\n", encoding="utf-8")
    key_a, key_b = "a" * 32, "b" * 32
    async with serving(make_config(mode, main)) as server, httpx.AsyncClient() as http:
        tab_a = await WsTab.open(server.ws_url(session=key_a))
        tab_b = await WsTab.open(server.ws_url(session=key_b, **({"file": "other.py"} if mode == "edit" else {})))
        try:
            urls = []
            for tab, name in ((tab_a, "A"), (tab_b, "B")):
                if mode == "edit":
                    messages = await tab.run({"pub": PUBLISH.format(who=name)}, timeout=90)
                    urls.append(console_text(messages, "pub").strip())
                else:
                    printed = await tab.wait_for(lambda m: m.get("type") == "cell-console" and "@file/" in m["text"], timeout=90)
                    urls.append(printed["text"].strip())
            url_a, url_b = urls
            assert url_a != url_b
            assert (await http.get(server.url(f"/{url_a}", session=key_a))).status_code == 200
            assert (await http.get(server.url(f"/{url_b}", session=key_b))).status_code == 200
            # B (or anyone without A's key) cannot read A's file, and the other way round.
            for url, key in ((url_a, key_b), (url_b, key_a), (url_a, ""), (url_a, "c" * 32)):
                http.cookies.clear()
                response = await http.get(server.url(f"/{url}", **({"session": key} if key else {})))
                assert response.status_code == 404, (url, key, response.status_code)
                assert b"session" not in response.content
        finally:
            await tab_a.close()
            await tab_b.close()
