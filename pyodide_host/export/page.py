"""The site's ``index.html`` (:func:`render_index`): the bundle's page with the notebook's
title and configuration, and an explanation for pages opened from ``file://``.

CPython only, standard library only.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

__all__ = ["render_index"]

_FILE_MESSAGE = (
    "This notebook runs Python in your browser, which browsers only allow for pages served over "
    "HTTP(S), not opened as a file. In this folder, run <code>python -m http.server</code> and "
    "open <a href=\"http://localhost:8000/\">http://localhost:8000/</a> (any static web server works)."
)


def _json_for_script(value: Any) -> str:
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_EARLY_WORKER = (
    "<script>/* amphikernel: start the kernel's worker now, while the page's scripts load */\n"
    "(function () { try {\n"
    " var c = JSON.parse(document.getElementById(\"amphi-config\").textContent);\n"
    " if (c.transport !== \"worker\" || !c.worker || location.protocol === \"file:\" || typeof Worker === \"undefined\") return;\n"
    # Not isolated yet with a service worker to make it so: the page may reload once (web/src/
    # static-site.ts); the bundle starts the worker after that.
    " if (!self.crossOriginIsolated && c.serviceWorker && c.isolate !== false && \"serviceWorker\" in navigator && self.isSecureContext) return;\n"
    " var url = new URL(c.worker, location.href).href;\n"
    " var w = new Worker(url, { type: \"module\" });\n"
    " w.postMessage({ kind: \"preload\", options: c.workerOptions || {} });\n"
    " window.__amphiEarlyWorker = { worker: w, url: url };\n"
    "} catch (e) {} })();</script>\n"
)
"""Inline script after ``#amphi-config``: creates the kernel's Web Worker and sends it ``preload``
(web/src/transport/worker-contract.ts) during parsing, a few hundred milliseconds before the
bundle (``app.js`` and its chunks) has loaded and would; the bundle adopts it (web/src/main.ts)."""


def render_index(template: str, *, title: str, config: dict[str, Any]) -> str:
    """The site's ``index.html``: the bundle's page with its title, the ``#amphi-config``
    script (for a worker transport, :data:`_EARLY_WORKER` after it) and a ``file://`` explanation (shown by an inline script: module scripts do not
    load from ``file://`` pages)."""
    head = (
        f"<title>{html.escape(title)}</title>\n"
        f'<script type="application/json" id="amphi-config">{_json_for_script(config)}</script>\n'
    )
    if config.get("transport") == "worker":
        head += _EARLY_WORKER
    page = re.sub(r"<title>.*?</title>\n?", "", template, count=1, flags=re.DOTALL)
    at = page.lower().find("</head>")
    page = page[:at] + head + page[at:]
    fallback = (
        '<div id="amphi-file-protocol" class="loading" role="alert" hidden>'
        f"{_FILE_MESSAGE}</div>\n"
        "<script>if (location.protocol === \"file:\") {"
        " var m = document.getElementById(\"amphi-file-protocol\"); m.hidden = false;"
        " var a = document.getElementById(\"app\"); if (a) a.replaceChildren(m); }</script>\n"
    )
    at = page.lower().rfind("</body>")
    return page[:at] + fallback + page[at:]
