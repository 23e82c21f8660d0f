"""The Pyodide host's browser pieces that run on CPython too: ``http.client``/``urllib`` over a
(fake) synchronous XMLHttpRequest, the import auto-installer, the ``save-notebook`` answer,
``parse_notebook`` and the export helpers."""

from __future__ import annotations

import asyncio
import http.client
import json
import sys
import types
import urllib.error
import urllib.request
from typing import Any

import msgspec
import pytest

from pyodide_host import http as xhr_http
from pyodide_host.imports import ImportInstaller, cell_imports, project_for_import
from pyodide_host.session import Session, parse_notebook


class FakeXHR:
    """Records the request; answers from ``routes`` (url -> (status, headers, body))."""

    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    sent: list[dict[str, Any]] = []

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.status = 0
        self.statusText = ""
        self.response: Any = None
        self.responseType = ""
        self.timeout = 0

    def open(self, method: str, url: str, asynchronous: bool) -> None:
        assert asynchronous is False
        self.method, self.url = method, url

    def setRequestHeader(self, name: str, value: str) -> None:
        self.headers[name] = value

    def overrideMimeType(self, value: str) -> None:
        pass

    def send(self, body: Any) -> None:
        FakeXHR.sent.append({"method": self.method, "url": self.url, "headers": dict(self.headers), "body": body})
        if self.url not in self.routes:
            raise RuntimeError("NetworkError: Failed to execute 'send'")
        self.status, self._headers, self.response = self.routes[self.url]
        self.statusText = http.client.responses.get(self.status, "")

    def getAllResponseHeaders(self) -> str:
        return "".join(f"{k}: {v}\r\n" for k, v in self._headers.items())


@pytest.fixture
def fake_xhr(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    FakeXHR.routes = {}
    FakeXHR.sent = []
    monkeypatch.setattr(xhr_http, "_js_xhr", FakeXHR)
    xhr_http.install()
    yield FakeXHR
    xhr_http.uninstall()


def test_urllib_and_http_client_go_through_the_xhr(fake_xhr: type[FakeXHR]) -> None:
    body = json.dumps({"ok": True}).encode()
    fake_xhr.routes["http://example.test/api?q=1"] = (200, {"Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": "3"}, body)
    fake_xhr.routes["https://secure.test:8443/missing"] = (404, {"Content-Type": "text/plain"}, b"nope")
    fake_xhr.routes["http://example.test/post"] = (201, {}, b"created")
    assert xhr_http.installed()
    with urllib.request.urlopen("http://example.test/api?q=1", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert "Content-Encoding" not in response.headers  # the browser already decompressed
        assert json.load(response) == {"ok": True}
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen("https://secure.test:8443/missing")
    assert info.value.code == 404 and info.value.read() == b"nope"
    request = urllib.request.Request("http://example.test/post", data=b"a=1", headers={"X-Token": "t", "User-Agent": "x"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 201 and response.read() == b"created"
    sent = fake_xhr.sent[-1]
    assert sent["method"] == "POST" and sent["body"] == b"a=1"
    assert sent["headers"]["X-Token"] == "t" and "User-Agent" not in sent["headers"] and "Host" not in sent["headers"]
    connection = http.client.HTTPConnection("example.test")
    connection.request("GET", "/api?q=1")
    assert connection.getresponse().read() == body
    with pytest.raises(urllib.error.URLError, match="failed in the browser"):
        urllib.request.urlopen("http://unknown.test/")


def test_uninstall_restores_http_client() -> None:
    original = http.client.HTTPConnection
    xhr_http.install()
    xhr_http.uninstall()
    assert http.client.HTTPConnection is original and not xhr_http.installed()


def test_cell_imports_and_projects() -> None:
    import ast

    tree = ast.parse("import a.b, c\nfrom d.e import f\nfrom . import g\ntry:\n    import h\nexcept ImportError:\n    pass\n")
    names, required = cell_imports(tree)
    assert names == ["a", "c", "d", "h"] and required == {"a", "c", "d"}
    assert project_for_import("yaml") == "PyYAML" and project_for_import("tabulate") == "tabulate"


def test_the_installer_hook_installs_missing_imports_and_names_what_fails(tmp_path, monkeypatch) -> None:
    import ast

    written: list[str] = []
    asked: list[list[str]] = []

    async def install(projects: list[str]) -> tuple[list[str], dict[str, str]]:
        asked.append(projects)
        installed, failed = [], {}
        for project in projects:
            if project == "amphi_fake_pkg":
                (tmp_path / "amphi_fake_pkg.py").write_text("VALUE = 7\n")
                installed.append(project)
            else:
                failed[project] = "no wheel on the site's index"
        return installed, failed

    monkeypatch.syspath_prepend(str(tmp_path))
    hook = ImportInstaller(install, write=written.append)
    kernel = types.SimpleNamespace(graph=types.SimpleNamespace(cells={
        "ok": types.SimpleNamespace(analysis=types.SimpleNamespace(tree=ast.parse("import json, amphi_fake_pkg"))),
        "bad": types.SimpleNamespace(analysis=types.SimpleNamespace(tree=ast.parse("import amphi_nowhere"))),
        "optional": types.SimpleNamespace(analysis=types.SimpleNamespace(tree=ast.parse("try:\n    import amphi_nowhere2\nexcept ImportError:\n    pass"))),
    }))
    asyncio.run(hook(kernel, "ok"))
    assert asked == [["amphi_fake_pkg"]]
    assert __import__("amphi_fake_pkg").VALUE == 7
    assert any("Installing amphi_fake_pkg" in w for w in written)
    with pytest.raises(ModuleNotFoundError, match=r"the package 'amphi_nowhere' \(for `import amphi_nowhere`\) could not be installed in the browser: no wheel"):
        asyncio.run(hook(kernel, "bad"))
    asyncio.run(hook(kernel, "optional"))  # a warning only
    assert any(w.startswith("Warning: the package 'amphi_nowhere2'") for w in written)


def test_save_notebook_is_answered_with_the_py_to_download() -> None:
    frames: list[bytes] = []
    session = Session(frames.append, filename="demo.py")
    request = msgspec.msgpack.encode({
        "type": "save-notebook", "request_id": "r1",
        "cells": [{"id": "a", "kind": "markdown", "source": "# Title"}, {"id": "b", "source": "x = 1", "name": "first"}],
    })  # fmt: skip
    session.handle_frame(request)
    answer = msgspec.msgpack.decode(frames[-1])
    assert answer["type"] == "notebook-saved" and answer["ok"] is False and answer["request_id"] == "r1"
    assert answer["filename"] == "demo.py"
    assert "# %% [markdown]\n# # Title\n" in answer["content"] and "# %% first\nx = 1\n" in answer["content"]


def test_parse_notebook_gives_the_snapshot_cells() -> None:
    parsed = json.loads(parse_notebook("# %%\nx = 1\n\n# %% [markdown]\n# hi\n", "nb.py"))
    assert [c["kind"] for c in parsed["cells"]] == ["code", "markdown"]
    assert parsed["cells"][0]["source"] == "x = 1" and parsed["path"] == "nb.py" and parsed["semantics"] == "script"


def test_install_patches_http_client_when_it_is_first_imported() -> None:
    import subprocess

    code = (
        "import sys\n"
        "from pyodide_host import http as h\n"
        "h.install()\n"
        "assert 'http.client' not in sys.modules  # nothing heavy imported at install\n"
        "import urllib.request, http.client\n"
        "assert h.installed() and http.client.HTTPConnection is h.connection_classes()[0]\n"
        "assert http.client.HTTPSConnection is h.connection_classes()[1]\n"
        "assert urllib.request.HTTPSHandler\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
