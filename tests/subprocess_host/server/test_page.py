"""``GET /``: the minimal page, the built bundle when it exists, and ``?file=``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from lifecycle.notebook import Cell, Notebook, write_notebook

from .harness import make_config, serving

pytestmark = pytest.mark.timeout(60)


def config_of(page: str) -> dict[str, str]:
    match = re.search(r'<script type="application/json" id="amphi-config">(.*?)</script>', page)
    assert match is not None
    return json.loads(match.group(1))


async def test_minimal_page_lists_cells_escaped(tmp_path: Path) -> None:
    path = tmp_path / "nb.py"
    write_notebook(path, Notebook(cells=[
        Cell("a", "code", "html = '<script>alert(1)</script>'"),
        Cell("b", "markdown", "# Notes & *stuff*", name="intro"),
    ]))
    async with serving(make_config("run", path)) as server, httpx.AsyncClient() as http:
        page = await http.get(server.url("/"))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert(1)" not in page.text
        assert "# Notes &amp; *stuff*" in page.text and "markdown cell 2 · intro" in page.text
        assert "frontend bundle is not built yet" in page.text and "no-bundle/index.html" in page.text
        assert config_of(page.text) == {"mode": "run", "path": str(path), "file": "", "ws": "/ws"}
        assert server.config.token and server.config.token not in page.text  # the page never holds it


async def test_built_bundle_is_served_with_its_assets(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><html><head><title>bundle</title></head><body>BUNDLE</body></html>")
    (dist / "app.js").write_text("console.log('amphi')")
    path = tmp_path / "nb.py"
    async with serving(make_config("edit", path, web_dist=dist)) as server, httpx.AsyncClient() as http:
        page = await http.get(server.url("/"))
        assert "BUNDLE" in page.text and "not built" not in page.text
        head = page.text.split("</head>")[0]
        assert config_of(head) == {"mode": "edit", "path": str(path), "file": "", "ws": "/ws"}
        asset = await http.get(f"{server.base}/app.js")  # the token cookie suffices
        assert asset.status_code == 200 and asset.text == "console.log('amphi')"
        assert (await http.get(f"{server.base}/missing.js")).status_code == 404
        async with httpx.AsyncClient() as stranger:
            assert (await stranger.get(f"{server.base}/app.js")).status_code == 403


async def test_other_notebooks_under_the_directory_only(tmp_path: Path) -> None:
    path = tmp_path / "main.py"
    sub = tmp_path / "sub"
    sub.mkdir()
    write_notebook(sub / "second.py", Notebook(cells=[Cell("s", "code", "second = 2")]))
    (tmp_path / "notes.txt").write_text("not a notebook")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.py"
    write_notebook(outside, Notebook(cells=[Cell("o", "code", "secret = 1")]))
    async with serving(make_config("edit", path)) as server, httpx.AsyncClient() as http:
        second = await http.get(server.url("/", file="sub/second.py"))
        assert second.status_code == 200 and "second = 2" in second.text
        assert config_of(second.text)["ws"] == "/ws?file=sub%2Fsecond.py"
        for bad in (f"../{outside.name}", str(outside), "notes.txt", "sub/missing.py", "main.py%00"):
            response = await http.get(server.url("/", file=bad))
            assert response.status_code == 404, bad
            assert "secret" not in response.text
    async with serving(make_config("run", path)) as server, httpx.AsyncClient() as http:
        assert (await http.get(server.url("/", file="sub/second.py"))).status_code == 404


def test_default_bundle_directory_is_the_packaged_one() -> None:
    from subprocess_host.server import config as server_config

    assert server_config.DEFAULT_WEB_DIST == server_config.STATIC_DIR / "app"
    assert server_config.default_web_dist() in (server_config.DEFAULT_WEB_DIST, server_config.SOURCE_TREE_WEB_DIST)
