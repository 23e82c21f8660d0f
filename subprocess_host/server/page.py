"""``GET /``: the page of a notebook.

It serves the built frontend (``index.html`` of the bundle directory: ``subprocess_host/static/app``,
where ``npm run build`` writes it, or ``web/dist``) when it exists, else the minimal page
``subprocess_host/static/index.html``, which lists the notebook's cells and says the bundle is
not built.  Both get a ``<script type="application/json" id="amphi-config">`` element telling
the frontend its mode, notebook and WebSocket path (never the token: the page's own requests
carry the token cookie).  ``?file=<path>`` (edit mode) opens another notebook under the main
notebook's directory.

Serving the page sets the HttpOnly ``amphi_session`` browser-key cookie (keeping a valid one
the browser already has) and, in edit mode, starts the notebook's kernel and binds the key to
its session.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from lifecycle.notebook import NotebookFormatError
from subprocess_host.server.auth import SESSION_COOKIE, cookie_header, parse_cookies
from subprocess_host.server.config import STATIC_DIR, ServerConfig
from subprocess_host.server.notebook import NotebookDocument
from subprocess_host.server.registry import NotebookNotFound, SessionManager, is_valid_key, new_key

log = logging.getLogger("amphikernel.server")

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the page URL may carry the token
    "X-Content-Type-Options": "nosniff",
}


def page_config(config: ServerConfig, document: NotebookDocument, file: str | None) -> dict[str, str]:
    """What the frontend learns from ``#amphi-config``: ``mode``, ``path`` (absolute
    notebook path), ``file`` (the ``?file=`` value, or empty) and ``ws`` (the WebSocket path
    with its query)."""
    ws = "/ws" + (f"?file={quote(file, safe='')}" if file else "")
    return {"mode": config.mode, "path": str(document.path), "file": file or "", "ws": ws}


TOKEN_SCRUB_SCRIPT = (
    "<script>(function(){var u=new URL(location.href);if(u.searchParams.has('token')){"
    "u.searchParams.delete('token');history.replaceState(history.state,'',u.pathname+u.search+u.hash);}})();"
    "</script>"
)
"""Runs first in the page: removes ``?token=`` from the address bar and the history entry (the
server has moved it into the HttpOnly cookie on this response), so that neither the URL
bar, a bookmark, a screenshot nor anything in the page can show it later."""


def _config_script(values: dict[str, str]) -> str:
    payload = json.dumps(values).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (
        '<meta name="referrer" content="no-referrer">\n'
        f"{TOKEN_SCRUB_SCRIPT}\n"
        f'<script type="application/json" id="amphi-config">{payload}</script>\n'
    )


_FALLBACK_TEMPLATE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{title}}</title></head>'
    "<body><h1>{{title}}</h1><p>The frontend bundle is not built yet (<code>{{bundle}}</code> is "
    "missing). Mode: {{mode}} · <code>{{path}}</code></p>{{cells}}</body></html>"
)


def render_bundle_page(index_html: str, values: dict[str, str]) -> str:
    """The built ``index.html`` with the config script inserted before ``</head>``."""
    script = _config_script(values)
    at = index_html.lower().find("</head>")
    if at < 0:
        return script + index_html
    return index_html[:at] + script + index_html[at:]


def render_minimal_page(document: NotebookDocument, values: dict[str, str], bundle_index: Path) -> str:
    """The placeholder page: every cell's kind, name and source, HTML-escaped, and where
    the bundle's ``index.html`` was looked for."""
    try:
        template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    except OSError:  # an install that left the page out
        template = _FALLBACK_TEMPLATE
    blocks = []
    for index, cell in enumerate(document.notebook.cells):
        title = f"{cell.kind} cell {index + 1}" + (f" · {cell.name}" if cell.name else "")
        blocks.append(
            f'<section class="cell {cell.kind}" data-cell-id="{html.escape(cell.id)}">'
            f"<h2>{html.escape(title)}</h2><pre><code>{html.escape(cell.source)}</code></pre></section>"
        )
    page = (
        template.replace("{{title}}", html.escape(document.path.name))
        .replace("{{mode}}", html.escape(values["mode"]))
        .replace("{{path}}", html.escape(str(document.path)))
        .replace("{{bundle}}", html.escape(str(bundle_index)))
        .replace("{{cells}}", "\n".join(blocks) or "<p>(no cells)</p>")
    )
    return render_bundle_page(page, values)


async def page_endpoint(request: Request) -> Response:
    """Serve the notebook page (see the module docstring)."""
    manager: SessionManager = request.app.state.manager
    config = manager.config
    file = request.query_params.get("file")
    try:
        path = manager.resolve_notebook(file)
    except NotebookNotFound as exc:
        return PlainTextResponse(f"404 Not Found: {exc}\n", status_code=404)
    presented = parse_cookies(request.scope["headers"]).get(SESSION_COOKIE)
    key = presented if presented is not None and is_valid_key(presented) else new_key()
    if config.mode == "edit":
        try:
            session = manager.edit_session(path)
        except (NotebookFormatError, OSError) as exc:
            return PlainTextResponse(f"cannot open {file}: {exc}\n", status_code=422)
        except RuntimeError as exc:
            return PlainTextResponse(f"503 Service Unavailable: {exc}\n", status_code=503)
        manager.bind(key, session)
        document = session.document
    else:
        document = manager.main_document
    values = page_config(config, document, file)
    index: Path = config.web_dist / "index.html"
    if index.is_file():
        body = render_bundle_page(index.read_text(encoding="utf-8"), values)
    else:
        body = render_minimal_page(document, values, index)
    response = HTMLResponse(body, headers=PAGE_HEADERS)
    response.raw_headers.append(cookie_header(SESSION_COOKIE, key))
    return response
