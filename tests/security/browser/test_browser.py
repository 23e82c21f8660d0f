"""Browser attacks in Chromium (real ``amphi edit``/``amphi run``, the built bundle).

* the token of the printed URL ends up in an HttpOnly, SameSite=Strict cookie and leaves the
  address bar;
* notebook outputs (``<img onerror>``, ``<script>``, a ``javascript:`` link, SVG with script,
  markdown with raw HTML) cannot read the cookie or the token, cannot send a kernel command
  (a cell creating a marker file) and cannot navigate the top page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.e2e.helpers import open_app, open_notebook

pytestmark = pytest.mark.timeout(240)

ATTACK = r'''
var out = {};
try { out.cookie = document.cookie; } catch (e) { out.cookie = "blocked"; }
try { out.top = top.location.href; } catch (e) { out.top = "blocked"; }
try { out.ref = document.referrer; } catch (e) { out.ref = "blocked"; }
try { top.amphi.session.send({type: "execute-cells", cell_ids: ["evil"], codes: [CODE]}); out.sent = 1; } catch (e) {}
try { var ws = new WebSocket(WSURL); ws.binaryType = "arraybuffer"; } catch (e) {}
try { top.location = "about:blank#pwned"; } catch (e) {}
try { parent.postMessage({stolen: out}, "*"); } catch (e) {}
'''


def notebook_source(marker: Path, ws_url: str) -> str:
    code = f"open({str(marker)!r}, 'w').write('pwned')"
    js = ATTACK.replace("CODE", repr(code).replace('"', "&quot;")).replace("WSURL", repr(ws_url)).replace("\n", " ")
    attr_js = js.replace('"', "&quot;")
    img = '<img id=i1 src=x onerror="window.__pwned=1;' + attr_js + '">'
    svg_img = '<svg xmlns="http://www.w3.org/2000/svg"><script>window.__pwned=5</script><circle r="4"/></svg>'
    plain = ("<svg onload=window.__pwned=3><circle r=3 /></svg>"
             "<meta http-equiv=refresh content=0;url=about:blank#pwned><base href=http://evil.example/>")  # fmt: skip
    outputs = [
        "html(" + repr(img) + ")",
        "html(" + repr("<script>" + js + "</script><p>scripted</p>") + ")",
        "html(" + repr("<a id=jslink href=javascript:window.__pwned=2>link</a>") + ")",
        "html(" + repr("<svg><script>" + js + "</script></svg>") + ")",
        "html(" + repr(plain) + ")",
        "md(" + repr("<img src=x onerror=window.__pwned=4>") + ")",
        "image(" + repr(svg_img) + ")",
    ]
    body = "\n".join(f"display({o})" for o in outputs)
    return f"# %%\nfrom lifecycle.display import display, html, md, image\n{body}\n"


def run_attack(page: Page, server: object, marker: Path, view: str) -> None:
    posts: list[object] = []
    page.expose_function("__record", lambda data: posts.append(data))
    page.add_init_script("addEventListener('message', (e) => { if (e.data && e.data.stolen) window.__record(e.data.stolen); })")
    if view == "edit":
        open_notebook(page, server)  # type: ignore[arg-type]
        page.keyboard.press("Escape")
        page.locator("main.cells section.cell").nth(0).locator(".cm-content").click()
        page.keyboard.press("Control+Enter")
    else:
        open_app(page, server)  # type: ignore[arg-type]
    page.wait_for_timeout(4000)
    assert page.locator("iframe.html-frame").count() >= 2, "the scripted outputs were not rendered"
    assert posts, "the scripts in the outputs did not run (their sandbox must still let them run)"
    url = page.url
    if page.locator("#jslink").count():
        page.locator("#jslink").first.click()
    page.wait_for_timeout(1000)
    assert page.url == url and "pwned" not in page.url, "an output navigated the top page"
    assert page.evaluate("window.__pwned") is None, "an output ran script in the page"
    assert page.evaluate("document.baseURI").startswith(url.split("?")[0].rsplit("/", 1)[0])
    token = server.url.split("token=")[1]  # type: ignore[attr-defined]
    for data in posts:
        assert token not in str(data), data
    assert not marker.exists(), "an output sent a kernel command"


def test_token_moves_to_an_httponly_cookie_and_leaves_the_address_bar(serve: object, page: Page) -> None:
    server = serve("edit", "# %%\nx = 1\n")  # type: ignore[operator]
    token = server.url.split("token=")[1]
    open_notebook(page, server)
    assert "token" not in page.url and token not in page.url
    assert token not in page.evaluate("document.cookie")
    assert token not in page.evaluate("location.href + document.documentElement.outerHTML")
    cookies = {c["name"]: c for c in page.context.cookies()}
    mine = [c for name, c in cookies.items() if name.startswith("amphi_token")]
    assert mine and all(c["value"] == token and c["httpOnly"] and c["sameSite"] == "Strict" for c in mine)
    page.reload()  # the cookie alone authenticates
    page.wait_for_selector(".notebook-view")


@pytest.mark.parametrize("mode", ["edit", "run"])
def test_outputs_cannot_attack_the_page(serve: object, page: Page, tmp_path: Path, mode: str) -> None:
    marker = tmp_path / "PWNED"
    first = serve(mode, "# %%\nx = 1\n", name="probe.py")  # type: ignore[operator]
    ws = first.base.replace("http://", "ws://") + "/ws"
    first.stop()
    server = serve(mode, notebook_source(marker, ws))  # type: ignore[operator]
    run_attack(page, server, marker, mode)
