"""Attacks on access control, as a program or a hostile site would try them (real server).

* every endpoint (page, WebSocket, ``/@file/``, static files, the bundle, save through the
  WebSocket) refuses a request without the token or its cookie, whatever else it carries;
* the token is compared with ``hmac.compare_digest`` on every path (query, header, cookie);
* DNS rebinding: a foreign ``Host`` is refused even with the right token;
* a cookie-authenticated WebSocket from another origin (another site, another local port,
  a sandboxed frame's ``null`` origin) is refused.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from lifecycle.notebook import Cell, Notebook, write_notebook
from subprocess_host.server import auth
from tests.subprocess_host.server.harness import (
    TOKEN,
    WsTab,
    console_text,
    cookie_header,
    load_page,
    make_config,
    of_type,
    serving,
)

pytestmark = pytest.mark.timeout(120)
PUBLISH = "from lifecycle.virtual_files import publish\nprint(publish(b'secret bytes', 'secret.txt'))"


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    path = tmp_path / "nb.py"
    write_notebook(path, Notebook(cells=[Cell(id="c0", kind="code", source="x = 1")]))
    (tmp_path / "other.py").write_text("# %%\ny = 2\n", encoding="utf-8")
    return path


async def handshake(url: str, headers: dict[str, str] | None = None) -> int:
    """101 when the WebSocket opens (and the notebook snapshot arrives), else the HTTP status."""
    try:
        tab = await WsTab.open(url, headers)
    except InvalidStatus as exc:
        return exc.response.status_code
    try:
        await tab.wait_for(of_type("notebook"), timeout=20)
    finally:
        await tab.close()
    return 101


async def published_url(server: object, session: str, mode: str) -> tuple[WsTab, str]:
    """A tab (with the token) whose session published a virtual file, and the file's URL.
    Edit mode runs the publishing cell; run mode runs the notebook's cells on connection.
    Close the tab at the end (a run session and its files end with it)."""
    tab = await WsTab.open(server.ws_url(session=session))  # type: ignore[attr-defined]
    if mode == "edit":
        messages = await tab.run({"c0": PUBLISH}, timeout=90)
        return tab, console_text(messages, "c0").strip()
    printed = await tab.wait_for(lambda m: m.get("type") == "cell-console" and "@file/" in m["text"], timeout=90)
    return tab, printed["text"].strip()


BAD_CREDENTIALS: list[dict[str, str]] = [
    {},
    {"Authorization": "token wrong"},
    {"Authorization": f"token {TOKEN}x"},
    {"Authorization": f"token {TOKEN[:-1]}"},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": f"token {TOKEN.upper()}"},
    {"Cookie": "amphi_token=" + TOKEN},  # the cookie of another port's server
    {"Cookie": "amphi_token_1=" + TOKEN},
    {"Cookie": "amphi_session=" + "k" * 32},  # a browser key is not a credential
]


@pytest.mark.parametrize("mode", ["edit", "run"])
async def test_no_endpoint_works_without_the_token_or_its_cookie(notebook: Path, mode: str) -> None:
    key = "attackerkey0123456789abcdefghij"
    write_notebook(notebook, Notebook(cells=[Cell(id="c0", kind="code", source=PUBLISH)]))
    async with serving(make_config(mode, notebook)) as server, httpx.AsyncClient() as http:
        owner_tab, file_url = await published_url(server, key, mode)
        assert file_url.startswith("@file/")
        # With the token, the file is there (so a 403 below is the token check, not a 404).
        async with httpx.AsyncClient() as owner:
            assert (await owner.get(server.url(f"/{file_url}", session=key))).content == b"secret bytes"
        paths = ["/", "/?file=other.py", "/static/index.html", "/index.html", "/assets/none.js",
                 f"/{file_url}", f"/{file_url}?session={key}", "/@file/", "/no/such/route"]  # fmt: skip
        for path in paths:
            for headers in BAD_CREDENTIALS:
                for token in ("", TOKEN + "x", TOKEN[:8]) if headers else ("", "wrong", TOKEN + "x", "%00", TOKEN[:8]):
                    sep = "&" if "?" in path else "?"
                    url = f"{server.base}{path}" + (f"{sep}token={token}" if token else "")
                    for method in ("GET", "POST") if headers else ("GET", "HEAD", "POST"):
                        response = await http.request(method, url, headers=headers)
                        http.cookies.clear()  # the attacker never had the cookie
                        assert response.status_code == 403, (method, url, headers, response.status_code)
                        assert b"secret bytes" not in response.content
                        assert not any(c.startswith("amphi_token") for c in response.headers.get_list("set-cookie"))
        for headers in BAD_CREDENTIALS:
            assert await handshake(server.ws_url(token=""), headers) == 403, headers
            assert await handshake(server.ws_url(token="wrong"), headers) == 403, headers
        # Saving goes through the WebSocket only: without the token it cannot even open.
        assert await handshake(server.ws_url(token="", file="nb.py")) == 403
        assert notebook.read_text().count("publish(") == 1
        await owner_tab.close()


async def test_non_ascii_and_huge_tokens_are_refused_not_crashes(notebook: Path) -> None:
    async with serving(make_config("edit", notebook)) as server, httpx.AsyncClient() as http:
        for token in ("%C3%A9" * 5, "%FF%FE", "%00" * 3, "x" * 20000, "%F0%9F%98%80"):
            response = await http.get(f"{server.base}/?token={token}")
            assert response.status_code in (403, 414, 431), (token[:20], response.status_code)
        for value in ("token \u00e9\u00e9", "token " + "y" * 20000):
            response = await http.get(server.base + "/", headers={"Authorization": value.encode("utf-8")})
            assert response.status_code in (403, 431)


async def test_every_token_comparison_is_constant_time(notebook: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison goes through ``hmac.compare_digest`` (whose running time does not depend
    on where the strings differ) for the query, the header and the cookie, right or wrong."""
    import hmac

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    async with serving(make_config("run", notebook)) as server:
        secret = TOKEN.encode()
        cases = [
            (server.url("/", token="wrong-token-value"), {}, False),
            (server.url("/"), {}, True),
            (server.url("/", token=""), {"Authorization": "token nope"}, False),
            (server.url("/", token=""), {"Authorization": f"token {TOKEN}"}, True),
            (server.url("/", token=""), {"Cookie": f"amphi_token_{server.port}=close-{TOKEN}"}, False),
            (server.url("/", token=""), {"Cookie": f"amphi_token_{server.port}={TOKEN}"}, True),
        ]
        for url, headers, ok in cases:
            calls.clear()
            fresh = httpx.AsyncClient()
            try:
                response = await fresh.get(url, headers=headers)
            finally:
                await fresh.aclose()
            assert (response.status_code == 200) is ok, (url, headers)
            assert calls and all(b == secret for _, b in calls), (url, headers, calls)
            presented = {a for a, _ in calls}
            assert (secret in presented) is ok


async def handshake_as(server: object, host: str) -> int:
    """A WebSocket handshake (with the token) whose ``Host`` header is ``host``."""
    from websockets.asyncio.client import connect

    url = server.ws_url().replace(f"127.0.0.1:{server.port}", host)  # type: ignore[attr-defined]
    try:
        async with connect(url, host="127.0.0.1", port=server.port, open_timeout=20):  # type: ignore[attr-defined]
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


HOSTILE_HOSTS = ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example", "localhost.evil.example",
                 "0.0.0.0:{port}", "192.168.1.10:{port}", "localhost.", "[::ffff:8.8.8.8]", "", " "]  # fmt: skip


@pytest.mark.parametrize("token", [TOKEN, None])
async def test_dns_rebinding_a_foreign_host_is_refused_even_with_the_token(notebook: Path, token: str | None) -> None:
    async with serving(make_config("edit", notebook, token=token)) as server, httpx.AsyncClient() as http:
        for host in HOSTILE_HOSTS:
            value = host.format(port=server.port)
            if not value.strip():
                continue  # an empty Host is a malformed request: see below
            response = await http.get(server.url("/"), headers={"Host": value})
            assert response.status_code == 403, (value, response.status_code)
            assert await handshake_as(server, value) == 403, value
        for good in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"LOCALHOST:{server.port}",
                     f"app.localhost:{server.port}", f"[::1]:{server.port}"):  # fmt: skip
            assert (await http.get(server.url("/"), headers={"Host": good})).status_code == 200, good


async def test_cross_origin_websocket_handshakes_are_refused(notebook: Path) -> None:
    async with serving(make_config("edit", notebook)) as server, httpx.AsyncClient() as http:
        await load_page(server, http)
        cookies = cookie_header(http)
        assert await handshake(server.ws_url(token=""), {**cookies, "Origin": server.base}) == 101
        for origin in ("http://evil.example", f"http://evil.example:{server.port}", "null",
                       f"http://127.0.0.1:{server.port + 1}", f"https://127.0.0.1:{server.port}x",
                       "file://", "http://localhost.evil.example"):  # fmt: skip
            assert await handshake(server.ws_url(token=""), {**cookies, "Origin": origin}) == 403, origin
