"""What a load balancer needs from a server instance: ``/health`` and ``X-Served-By``.

:class:`InstanceMiddleware` wraps the whole ASGI application of an instance:

* ``GET /health`` (or ``HEAD``), answered before access control (no token needed):
  ``200 {"status": "ok", "instance": "<id>"}`` while the instance serves, ``503
  {"status": "stopping", ...}`` once it shuts down (the balancer stops sending readers to
  it).  It reveals nothing but the instance id, which every response carries anyway;
* an ``X-Served-By: <instance id>`` header on every HTTP response and on the WebSocket
  upgrade response (``websocket.accept``), so a client, a test or the balancer's log can
  tell which instance served a request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

HEADER = b"x-served-by"

ASGIApp = Callable[[Any, Any, Any], Any]


class InstanceMiddleware:
    """See the module docstring.

    Args:
        app: the instance's ASGI application.
        instance_id: the id sent in ``X-Served-By`` (ASCII).
        stopping: returns ``True`` once the instance shuts down (``/health`` then says 503).
    """

    def __init__(self, app: ASGIApp, instance_id: str, stopping: Callable[[], bool] = lambda: False) -> None:
        self.app = app
        self.instance_id = instance_id
        self._value = instance_id.encode("ascii")
        self._stopping = stopping

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http" and scope.get("path") == "/health" and scope.get("method") in ("GET", "HEAD"):
            await self._health(scope, send)
            return
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def tagged(message: Any) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers = [(k, v) for k, v in message.get("headers") or () if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, self._value)]}
            await send(message)

        await self.app(scope, receive, tagged)

    async def _health(self, scope: Any, send: Any) -> None:
        stopping = self._stopping()
        body = json.dumps({"status": "stopping" if stopping else "ok", "instance": self.instance_id}).encode()
        await send({"type": "http.response.start", "status": 503 if stopping else 200, "headers": [
            (b"content-type", b"application/json"), (b"cache-control", b"no-store"),
            (b"content-length", str(len(body)).encode()), (HEADER, self._value),
        ]})
        await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})
