"""Access token enforcement on HTTP requests and WebSocket handshakes (real server)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from lifecycle.notebook import Cell, Notebook, write_notebook

from .harness import TOKEN, WsTab, cookie_header, make_config, of_type, serving

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    path = tmp_path / "app.py"
    write_notebook(path, Notebook(cells=[Cell(id="c0", kind="code", source="x = 1")]))
    return path


async def ws_status(url: str, headers: dict[str, str] | None = None) -> int:
    """101 if the handshake is accepted (the snapshot arrives), else the HTTP status."""
    try:
        tab = await WsTab.open(url, headers)
    except InvalidStatus as exc:
        return exc.response.status_code
    try:
        await tab.wait_for(of_type("notebook"), timeout=10)
    finally:
        await tab.close()
    return 101


async def test_http_and_websocket_without_or_with_a_wrong_token_get_403(notebook: Path) -> None:
    async with serving(make_config("run", notebook)) as server, httpx.AsyncClient() as http:
        for path in ("/", "/@file/AAAAAAAAAAAAAAAAAAAAAA-x.bin", "/static/index.html"):
            assert (await http.get(server.url(path, token=""))).status_code == 403
            assert (await http.get(server.url(path, token="wrong"))).status_code == 403
        assert (await http.get(server.url("/", token=""), headers={"Authorization": "token nope"})).status_code == 403
        assert "amphi_token" not in str(http.cookies)
        assert await ws_status(server.ws_url(token="")) == 403
        assert await ws_status(server.ws_url(token="wrong")) == 403
        assert await ws_status(server.ws_url(token=""), {"Authorization": "token wrong"}) == 403
        assert await ws_status(server.ws_url(token=""), {"Cookie": f"amphi_token_{server.port}=wrong"}) == 403


async def test_the_token_in_the_query_or_header_is_accepted(notebook: Path) -> None:
    async with serving(make_config("run", notebook)) as server, httpx.AsyncClient() as http:
        page = await http.get(server.url("/"))
        assert page.status_code == 200 and "app.py" in page.text
        fresh = httpx.AsyncClient()
        try:
            by_header = await fresh.get(server.url("/", token=""), headers={"Authorization": f"token {TOKEN}"})
            assert by_header.status_code == 200
        finally:
            await fresh.aclose()
        assert await ws_status(server.ws_url()) == 101
        assert await ws_status(server.ws_url(token=""), {"Authorization": f"token {TOKEN}"}) == 101


async def test_cookie_set_by_the_first_page_load_authenticates_later_requests(notebook: Path) -> None:
    async with serving(make_config("run", notebook)) as server, httpx.AsyncClient() as http:
        first = await http.get(server.url("/"))
        cookies = first.headers.get_list("set-cookie")
        token_cookie = next(c for c in cookies if c.startswith(f"amphi_token_{server.port}="))
        assert "HttpOnly" in token_cookie and "SameSite=Strict" in token_cookie
        session_cookie = next(c for c in cookies if c.startswith("amphi_session="))
        assert "HttpOnly" in session_cookie
        again = await http.get(server.url("/", token=""))  # the cookie alone
        assert again.status_code == 200
        assert await ws_status(server.ws_url(token=""), cookie_header(http)) == 101
        same_origin = {**cookie_header(http), "Origin": server.base}
        assert await ws_status(server.ws_url(token=""), same_origin) == 101
        # Another site cannot ride on the cookie.
        cross = {**cookie_header(http), "Origin": "http://evil.example"}
        assert await ws_status(server.ws_url(token=""), cross) == 403


async def test_no_token_serves_everyone_on_loopback(notebook: Path) -> None:
    async with serving(make_config("run", notebook, token=None)) as server, httpx.AsyncClient() as http:
        assert server.config.token is None
        page = await http.get(server.url("/"))
        assert page.status_code == 200
        assert not any(c.startswith("amphi_token") for c in page.headers.get_list("set-cookie"))
        assert await ws_status(server.ws_url()) == 101
        # DNS rebinding: a page of another name resolving to 127.0.0.1 is refused.
        rebound = await http.get(server.url("/"), headers={"Host": "evil.example"})
        assert rebound.status_code == 403
        rebound_url = server.ws_url().replace("127.0.0.1", "evil.example")
        with pytest.raises(InvalidStatus) as refused:
            await connect(rebound_url, host="127.0.0.1", port=server.port, open_timeout=10)
        assert refused.value.response.status_code == 403
