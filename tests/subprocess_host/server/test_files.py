"""``/@file/`` over HTTP: virtual files from shared memory (edit) and memory (run)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from lifecycle.notebook import Cell, Notebook, write_notebook

from .harness import (
    WsTab,
    console_text,
    cookie_header,
    load_page,
    make_config,
    of_type,
    serving,
    shm_segments,
)

pytestmark = pytest.mark.timeout(120)
PAYLOAD = bytes(range(256)) * 4  # 1024 bytes
PUBLISH = "from lifecycle.virtual_files import publish\nurl = publish(bytes(range(256)) * 4, 'data.bin')\nprint(url)"


def write_nb(path: Path, *sources: str) -> Path:
    write_notebook(path, Notebook(cells=[Cell(id=f"c{i}", kind="code", source=s) for i, s in enumerate(sources)]))
    return path


async def check_file_responses(server: object, http: httpx.AsyncClient, url: str) -> None:
    """200 with headers, 206 ranges, 416, HEAD, If-Range: the same in both modes."""
    base = server.base  # type: ignore[attr-defined]
    whole = await http.get(f"{base}/{url}")
    assert whole.status_code == 200
    assert whole.content == PAYLOAD
    assert whole.headers["content-type"] == "application/octet-stream"
    assert whole.headers["content-length"] == "1024"
    assert whole.headers["accept-ranges"] == "bytes"
    for header, first, last in (("bytes=0-9", 0, 9), ("bytes=1000-", 1000, 1023), ("bytes=-4", 1020, 1023),
                                ("bytes=1020-5000", 1020, 1023)):
        part = await http.get(f"{base}/{url}", headers={"Range": header})
        assert part.status_code == 206, header
        assert part.headers["content-range"] == f"bytes {first}-{last}/1024"
        assert part.headers["content-length"] == str(last - first + 1)
        assert part.content == PAYLOAD[first : last + 1]
    for header in ("bytes=1024-", "bytes=5000-6000", "bytes=-0"):
        refused = await http.get(f"{base}/{url}", headers={"Range": header})
        assert refused.status_code == 416, header
        assert refused.headers["content-range"] == "bytes */1024"
    head = await http.head(f"{base}/{url}", headers={"Range": "bytes=2-5"})
    assert head.status_code == 206 and head.headers["content-length"] == "4" and head.content == b""
    stale = await http.get(f"{base}/{url}", headers={"Range": "bytes=0-1", "If-Range": '"other"'})
    assert stale.status_code == 200 and stale.content == PAYLOAD
    file_id = url.split("/", 1)[1][:22]
    for bad in (f"{file_id}-..%2Fdata.bin", f"{file_id}-data%00.bin", f"{file_id}-..", f"{file_id}-a%01b"):
        assert (await http.get(f"{base}/@file/{bad}")).status_code == 400, bad
    # A newline never reaches the route (Starlette's path pattern stops at it): 404.
    assert (await http.get(f"{base}/@file/{file_id}-a%0Ab")).status_code == 404
    for missing in ("..%2F..%2Fetc%2Fpasswd", "short-data.bin", f"{file_id}data.bin", f"{file_id}-other.bin",
                    "AAAAAAAAAAAAAAAAAAAAAA-data.bin"):
        assert (await http.get(f"{base}/@file/{missing}")).status_code == 404, missing


async def test_edit_mode_serves_shared_memory_files_to_their_session_only(tmp_path: Path) -> None:
    path = write_nb(tmp_path / "nb.py", PUBLISH)
    write_nb(tmp_path / "other.py", "y = 1")
    async with serving(make_config("edit", path)) as server, httpx.AsyncClient() as http:
        await load_page(server, http)
        tab = await WsTab.open(server.ws_url(token=""), cookie_header(http))
        cell = (await tab.wait_for(of_type("notebook")))["cells"][0]["id"]
        await tab.run({cell: PUBLISH})
        notice = await tab.wait_for(of_type("virtual-file"))
        url = console_text(tab.messages, cell).strip()
        assert url.startswith("@file/") and url.endswith("-data.bin") and notice["url"] == url
        kernel_pid = (await tab.wait_for(of_type("kernel-ready")))["pid"]
        assert notice["shm_name"] in shm_segments(kernel_pid)
        await check_file_responses(server, http, url)

        # A browser that only opened another notebook of this server: another session.
        async with httpx.AsyncClient() as stranger:
            await load_page(server, stranger, file="other.py")
            assert (await stranger.get(f"{server.base}/{url}")).status_code == 404
            assert (await stranger.get(server.url(f"/{url}", session=http.cookies["amphi_session"]))).status_code == 200
        async with httpx.AsyncClient() as token_only:  # the token but no session cookie
            assert (await token_only.get(server.url(f"/{url}"))).status_code == 404

        # Re-running the cell releases the old file (its segment is unlinked).
        mark = len(tab.messages)
        await tab.run({cell: PUBLISH})
        new_url = console_text(tab.messages[mark:], cell).strip()
        assert new_url != url
        assert (await http.get(f"{server.base}/{url}")).status_code == 404
        assert notice["shm_name"] not in shm_segments(kernel_pid)
        assert (await http.get(f"{server.base}/{new_url}")).content == PAYLOAD
        await tab.close()
    assert not shm_segments(kernel_pid)


async def test_run_mode_serves_in_memory_files_to_their_client_only(tmp_path: Path) -> None:
    path = write_nb(tmp_path / "app.py", PUBLISH)
    async with serving(make_config("run", path)) as server, httpx.AsyncClient() as http:
        await load_page(server, http)
        tab = await WsTab.open(server.ws_url(token=""), cookie_header(http))
        cell = (await tab.wait_for(of_type("notebook")))["cells"][0]["id"]
        await tab.wait_for(of_type("completed-run"))
        url = console_text(tab.messages, cell).strip()
        await check_file_responses(server, http, url)

        # Another reader (its own page load, its own kernel) cannot read it.
        async with httpx.AsyncClient() as other:
            await load_page(server, other)
            other_tab = await WsTab.open(server.ws_url(token=""), cookie_header(other))
            await other_tab.wait_for(of_type("completed-run"))
            other_url = console_text(other_tab.messages, cell).strip()
            assert other_url != url
            assert (await other.get(f"{server.base}/{url}")).status_code == 404
            assert (await http.get(f"{server.base}/{other_url}")).status_code == 404
            assert (await other.get(f"{server.base}/{other_url}")).status_code == 200
            await other_tab.close()

        # A client without a cookie gets one on the WebSocket handshake.
        bare = await WsTab.open(server.ws_url())
        set_cookie = bare.ws.response.headers["set-cookie"]
        assert set_cookie.startswith("amphi_session=") and "HttpOnly" in set_cookie
        key = set_cookie.split(";", 1)[0].split("=", 1)[1]
        await bare.wait_for(of_type("completed-run"))
        bare_url = console_text(bare.messages, cell).strip()
        async with httpx.AsyncClient(cookies={"amphi_session": key}) as by_cookie:
            assert (await by_cookie.get(server.url(f"/{bare_url}"))).content == PAYLOAD

        # Once a reader's socket closes, its kernel and files are gone.
        await tab.close()
        for _ in range(100):
            if (await http.get(f"{server.base}/{url}")).status_code == 404:
                break
        assert (await http.get(f"{server.base}/{url}")).status_code == 404
        await bare.close()
