"""Access control for every HTTP request and WebSocket handshake (an ASGI middleware).

The access token (random per start unless ``--token`` gives one, none with ``--no-token``)
is accepted from, in this order:

1. the query parameter ``?token=...`` (the printed URL carries it);
2. an ``Authorization: token <TOKEN>`` header (``Bearer`` is accepted too);
3. the HttpOnly cookie ``amphi_token_<PORT>`` (``SameSite=Strict``), which the server sets on
   any response to a request authenticated by the query parameter, so that the page's own
   requests (WebSocket, ``/@file/``) need no token in their URLs.  The port is part of the
   name because browsers share cookies between ports of one host.

Tokens are compared in constant time.  Without a valid token an HTTP request gets 403 and a
WebSocket handshake is rejected (403).  Two more checks apply whatever the token:

* when the server is bound to a loopback address, the ``Host`` header must name a loopback
  host (``localhost``, ``127.x.y.z``, ``[::1]``, ``*.localhost``): this defeats DNS
  rebinding, which matters most with ``--no-token``;
* a WebSocket authenticated by the cookie (or open, with ``--no-token``) must come from the
  server's own origin (an ``Origin`` header naming another host is rejected), so another
  site cannot drive a kernel through the user's browser.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

log = logging.getLogger("amphikernel.server")

SESSION_COOKIE = "amphi_session"
"""Name of the browser-key cookie (see :mod:`subprocess_host.server.registry`)."""

Scope = dict[str, Any]
ASGIApp = Any


def token_cookie_name(scope: Scope) -> str:
    """``amphi_token_<port>`` for the port the request arrived on."""
    server = scope.get("server")
    port = server[1] if server and len(server) > 1 and server[1] is not None else None
    return f"amphi_token_{port}" if port is not None else "amphi_token"


def header(scope: Scope, name: str) -> str | None:
    """The first value of request header ``name`` (case-insensitive), decoded as Latin-1."""
    wanted = name.lower().encode("latin-1")
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


def query_param(scope: Scope, name: str) -> str | None:
    """The first value of query parameter ``name``, or ``None``."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True).get(name)
    return values[0] if values else None


def parse_cookies(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Cookies of a request (``name -> value``; first occurrence wins; values percent-decoded)."""
    cookies: dict[str, str] = {}
    for key, value in headers:
        if key.lower() != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            name, sep, val = part.strip().partition("=")
            if sep and name and name not in cookies:
                cookies[name] = unquote(val.strip().strip('"'))
    return cookies


def cookie_header(name: str, value: str) -> tuple[bytes, bytes]:
    """A ``Set-Cookie`` header for an HttpOnly, ``SameSite=Strict`` session cookie."""
    text = f"{name}={quote(value, safe='')}; Path=/; HttpOnly; SameSite=Strict"
    return b"set-cookie", text.encode("latin-1")


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def is_loopback_host(host_header: str) -> bool:
    """Whether a ``Host`` header value names this machine's loopback interface."""
    name = _host_name(host_header)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Access:
    """The access rules of one server.

    Args:
        token: the access token, or ``None`` for no token.
        loopback: the server is bound to a loopback address (enables the ``Host`` check).
    """

    def __init__(self, token: str | None, *, loopback: bool) -> None:
        self.token = token
        self.loopback = loopback

    def _matches(self, candidate: str | None) -> bool:
        if candidate is None or self.token is None:
            return False
        return hmac.compare_digest(candidate.encode("utf-8"), self.token.encode("utf-8"))

    def authenticate(self, scope: Scope) -> str | None:
        """How the request is authenticated: ``"query"``, ``"header"``, ``"cookie"`` or
        ``"open"`` (no token configured); ``None`` when it is not."""
        if self.token is None:
            return "open"
        if self._matches(query_param(scope, "token")):
            return "query"
        authorization = header(scope, "authorization")
        if authorization:
            scheme, _, credentials = authorization.strip().partition(" ")
            if scheme.lower() in ("token", "bearer") and self._matches(credentials.strip()):
                return "header"
        cookie = parse_cookies(scope.get("headers", ())).get(token_cookie_name(scope))
        if self._matches(cookie):
            return "cookie"
        return None

    def host_allowed(self, scope: Scope) -> bool:
        """The ``Host`` check (only when bound to loopback; a request without ``Host``
        passes)."""
        if not self.loopback:
            return True
        host = header(scope, "host")
        return host is None or is_loopback_host(host)

    @staticmethod
    def same_origin(scope: Scope) -> bool:
        """Whether the ``Origin`` header is absent or names the ``Host`` the request used."""
        origin = header(scope, "origin")
        if origin is None:
            return True
        host = header(scope, "host")
        try:
            netloc = urlsplit(origin).netloc
        except ValueError:
            return False
        return bool(host) and netloc.lower() == (host or "").strip().lower()


class AccessMiddleware:
    """ASGI middleware enforcing :class:`Access` on HTTP and WebSocket scopes.

    Args:
        app: the wrapped application.
        access: the rules.
    """

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        access = self.access
        if not access.host_allowed(scope):
            await self._deny(scope, receive, send, "the Host header does not name this machine")
            return
        via = access.authenticate(scope)
        if via is None:
            await self._deny(scope, receive, send, "missing or wrong access token")
            return
        if kind == "websocket" and via in ("cookie", "open") and not access.same_origin(scope):
            await self._deny(scope, receive, send, "cross-origin WebSocket")
            return
        if kind == "http" and via == "query" and access.token is not None:
            send = self._with_cookie(scope, send, access.token)
        await self.app(scope, receive, send)

    @staticmethod
    def _with_cookie(scope: Scope, send: Any, token: str) -> Any:
        cookie = cookie_header(token_cookie_name(scope), token)

        async def send_with_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), cookie]}
            await send(message)

        return send_with_cookie

    @staticmethod
    async def _deny(scope: Scope, receive: Any, send: Any, reason: str) -> None:
        client = scope.get("client")
        log.warning("403 %s %s from %s: %s", scope["type"], scope.get("path"), client[0] if client else "?", reason)
        if scope["type"] == "websocket":
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": 1008, "reason": ""})
            return
        body = f"403 Forbidden: {reason}\n".encode()
        await send({
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        })
        await send({"type": "http.response.body", "body": body})
