"""``http.client`` (and so ``urllib.request``) over synchronous ``XMLHttpRequest`` (Pyodide).

Pyodide has no sockets, so ``urllib.request.urlopen`` and ``http.client.HTTPConnection`` fail in
the browser.  :func:`install` replaces ``http.client.HTTPConnection`` and
``HTTPSConnection`` with :class:`XHRConnection`, which sends each request with a synchronous
``XMLHttpRequest`` (allowed in a Web Worker, where the kernel runs) and hands back a real
:class:`http.client.HTTPResponse` parsed from the status line, headers and body, so the code
above it (``urllib``'s handlers: redirects already followed by the browser, ``HTTPError`` for
4xx/5xx, cookies, ``json.load(response)``) behaves as on CPython.

What the browser imposes: requests obey CORS (a cross-origin server must allow the page's
origin); headers the browser forbids scripts to set (``Host``, ``Connection``,
``Content-Length``, ``Accept-Encoding``, ``Cookie``, ``User-Agent``...) are dropped; the
response is already decompressed; there is no streaming (the whole body is read at once);
proxies and ``set_tunnel`` are not supported.  A network failure (DNS, refused, CORS) raises
:class:`ConnectionError`; a timeout raises :class:`TimeoutError`.

Pure standard library at import time; ``js``/``pyodide`` are imported only when a request is
sent (tests on CPython give :class:`XHRConnection` a fake ``xhr_factory``).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import io
import socket
import sys
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

__all__ = ["connection_classes", "install", "installed", "uninstall"]

FORBIDDEN_HEADERS = frozenset({
    "accept-charset", "accept-encoding", "access-control-request-headers",
    "access-control-request-method", "connection", "content-length", "cookie", "cookie2",
    "date", "dnt", "expect", "host", "keep-alive", "origin", "referer", "te", "trailer",
    "transfer-encoding", "upgrade", "via", "user-agent",
})  # fmt: skip
"""Request headers browsers do not let scripts set (dropped instead of failing)."""

_DROPPED_RESPONSE_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding"})


def _js_xhr() -> Any:
    from js import XMLHttpRequest  # type: ignore[import-not-found]

    return XMLHttpRequest.new()


def _in_worker() -> bool:
    try:
        import js  # type: ignore[import-not-found]
    except ImportError:
        return True
    return not hasattr(js, "document")


_classes: tuple[type, type] | None = None


def connection_classes() -> tuple[type, type]:
    """``(XHRConnection, XHRSConnection)``, defined on first use: they build on
    ``http.client``, which (with the ``email`` package it imports) costs a quarter of a second
    to import in Pyodide, so a kernel does not pay for it until some code uses HTTP."""
    global _classes
    if _classes is not None:
        return _classes
    client = sys.modules.get("http.client")  # while it is being patched, `http.client` does
    if client is None:  # not resolve as an attribute of `http` yet
        import http.client as client

    class _Socket:
        """What :class:`http.client.HTTPResponse` reads from: the synthesized response bytes."""

        def __init__(self, data: bytes) -> None:
            self._data = data

        def makefile(self, mode: str, *args: Any, **kwargs: Any) -> io.BufferedReader:
            return io.BufferedReader(io.BytesIO(self._data))  # type: ignore[arg-type]

        def close(self) -> None:
            pass


    class XHRConnection:
        """A drop-in ``http.client.HTTPConnection`` that sends each request with synchronous
        ``XMLHttpRequest``.

        Args:
            host: ``"example.org"``, ``"example.org:8080"`` or ``"[::1]:8080"``.
            port: TCP port (default: from ``host``, else 80/443).
            timeout: seconds (``None`` or ``socket._GLOBAL_DEFAULT_TIMEOUT``: the browser's).
            xhr_factory: makes an ``XMLHttpRequest`` (tests pass a fake).
        """

        default_port = client.HTTP_PORT
        scheme = "http"
        debuglevel = 0
        response_class = client.HTTPResponse
        _http_vsn = 11
        _http_vsn_str = "HTTP/1.1"
        _get_content_length = staticmethod(client.HTTPConnection._get_content_length)

        def __init__(
            self,
            host: str,
            port: int | None = None,
            timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
            source_address: Any = None,
            blocksize: int = 8192,
            *,
            context: Any = None,
            xhr_factory: Callable[[], Any] | None = None,
            **_ignored: Any,
        ) -> None:
            if port is None:
                host, port = self._split_host(host)
            self.host = host
            self.port = port
            self.timeout = timeout
            self.sock: Any = None
            self._xhr_factory = xhr_factory or _js_xhr
            self._method = ""
            self._url = ""
            self._headers: list[tuple[str, str]] = []
            self._body: list[bytes] = []
            self._response: client.HTTPResponse | None = None
            self._reply: bytes | None = None

        def _split_host(self, host: str) -> tuple[str, int]:
            at = host.rfind(":")
            bracket = host.rfind("]")
            if at > bracket:
                try:
                    return host[:at].strip("[]"), int(host[at + 1 :])
                except ValueError:
                    raise client.InvalidURL(f"nonnumeric port: {host[at + 1 :]!r}") from None
            return host.strip("[]"), self.default_port

        # ------------------------------------------------------------------ http.client API
        def set_debuglevel(self, level: int) -> None:
            self.debuglevel = level

        def set_tunnel(self, host: str, port: int | None = None, headers: Any = None) -> None:
            raise client.HTTPException("proxies (set_tunnel) are not supported in the browser")

        def connect(self) -> None:
            """Nothing to do: each request opens its own XMLHttpRequest."""

        def close(self) -> None:
            self.sock = None

        def putrequest(self, method: str, url: str, skip_host: bool = False, skip_accept_encoding: bool = False) -> None:
            self._method = method
            self._url = url
            self._headers = []
            self._body = []
            self._response = None
            self._reply = None

        def putheader(self, header: str | bytes, *values: Any) -> None:
            name = header.decode("latin-1") if isinstance(header, bytes) else str(header)
            text = ", ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values)
            self._headers.append((name, text))

        def endheaders(self, message_body: Any = None, *, encode_chunked: bool = False) -> None:
            if message_body is not None:
                self.send(message_body)

        def send(self, data: Any) -> None:
            if data is None:
                return
            if isinstance(data, str):
                self._body.append(data.encode("iso-8859-1"))
            elif isinstance(data, (bytes, bytearray, memoryview)):
                self._body.append(bytes(data))
            elif hasattr(data, "read"):
                while True:
                    chunk = data.read(65536)
                    if not chunk:
                        break
                    self._body.append(chunk.encode("iso-8859-1") if isinstance(chunk, str) else bytes(chunk))
            elif isinstance(data, Iterable):
                for chunk in data:
                    self.send(chunk)
            else:
                raise TypeError(f"data should be a bytes-like object or an iterable, got {type(data)!r}")

        def request(
            self, method: str, url: str, body: Any = None, headers: Any = None, *, encode_chunked: bool = False
        ) -> None:
            self.putrequest(method, url)
            for name, value in (headers or {}).items():
                self.putheader(name, value)
            if isinstance(body, str):
                body = body.encode("iso-8859-1")
            self.endheaders(body)
            # The request is complete: send it now, so network errors come from request() as
            # with a socket (urllib turns them into URLError there).
            self._reply = self._exchange()

        def getresponse(self) -> client.HTTPResponse:
            if self._response is not None:
                raise client.ResponseNotReady("the response was already read")
            data, self._reply = self._reply or self._exchange(), None
            response = self.response_class(_Socket(data), method=self._method)  # type: ignore[arg-type]
            response.begin()
            self._response = response
            return response

        # ------------------------------------------------------------------------- XHR
        def full_url(self) -> str:
            """The absolute URL of the current request."""
            if self._url.startswith(("http://", "https://")):
                return self._url
            host = f"[{self.host}]" if ":" in self.host else self.host
            port = "" if self.port == self.default_port else f":{self.port}"
            path = self._url if self._url.startswith("/") else "/" + self._url
            return f"{self.scheme}://{host}{port}{path}"

        def _exchange(self) -> bytes:
            url = self.full_url()
            xhr = self._xhr_factory()
            worker = _in_worker()
            try:
                xhr.open(self._method, url, False)
                if worker:
                    xhr.responseType = "arraybuffer"
                    if isinstance(self.timeout, (int, float)) and self.timeout > 0:
                        xhr.timeout = int(self.timeout * 1000)
                else:  # the page's main thread: bytes through a text response
                    xhr.overrideMimeType("text/plain; charset=x-user-defined")
                for name, value in self._headers:
                    if name.lower() not in FORBIDDEN_HEADERS:
                        xhr.setRequestHeader(name, value)
                body = b"".join(self._body)
                xhr.send(_to_js(body) if body else None)
            except Exception as exc:
                if "timeout" in type(exc).__name__.lower() or "timeout" in str(exc).lower():
                    raise TimeoutError(f"{self._method} {url}: timed out") from None
                raise ConnectionError(f"{self._method} {url} failed in the browser: {_message(exc)}") from None
            status = int(xhr.status)
            if status == 0:
                raise ConnectionError(f"{self._method} {url} failed in the browser (network error, or blocked by CORS)")
            payload = _response_bytes(xhr.response, worker)
            reason = str(xhr.statusText or "") or client.responses.get(status, "")
            lines = [f"HTTP/1.1 {status} {reason}"]
            for raw in str(xhr.getAllResponseHeaders() or "").split("\r\n"):
                name, sep, value = raw.partition(":")
                if sep and name.strip().lower() not in _DROPPED_RESPONSE_HEADERS:
                    lines.append(f"{name.strip()}: {value.strip()}")
            lines.append(f"Content-Length: {len(payload)}")
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
            return head + payload


    class XHRSConnection(XHRConnection):
        """``http.client.HTTPSConnection`` over XMLHttpRequest (TLS is the browser's)."""

        default_port = client.HTTPS_PORT
        scheme = "https"

    _classes = (XHRConnection, XHRSConnection)
    return _classes


def __getattr__(name: str) -> Any:
    if name == "XHRConnection":
        return connection_classes()[0]
    if name == "XHRSConnection":
        return connection_classes()[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _to_js(body: bytes) -> Any:
    try:
        from pyodide.ffi import to_js  # type: ignore[import-not-found]
    except ImportError:
        return body
    return to_js(body)


def _message(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _response_bytes(response: Any, worker: bool) -> bytes:
    if response is None:
        return b""
    if isinstance(response, (bytes, bytearray, memoryview)):
        return bytes(response)
    if isinstance(response, str):  # x-user-defined: each char's low byte
        return bytes(ord(c) & 0xFF for c in response)
    to_py = getattr(response, "to_py", None)
    if to_py is not None:  # an ArrayBuffer proxy
        return bytes(to_py())
    return bytes(response)


def _https_handler() -> type:
    import urllib.request

    class HTTPSHandler(urllib.request.AbstractHTTPHandler):
        """``urllib.request.HTTPSHandler`` for runtimes without ``ssl`` (the browser does TLS)."""

        def https_open(self, req: urllib.request.Request) -> Any:
            import http.client

            return self.do_open(http.client.HTTPSConnection, req)  # type: ignore[attr-defined]

        https_request = urllib.request.AbstractHTTPHandler.do_request_

    return HTTPSHandler


_PATCHED = ("http.client", "urllib.request")
_original: dict[str, Any] = {}
_installed = False


def _patch(name: str, module: ModuleType) -> None:
    if name == "http.client":
        plain, secure = connection_classes()
        _original.setdefault("HTTPConnection", module.HTTPConnection)
        _original.setdefault("HTTPSConnection", getattr(module, "HTTPSConnection", None))
        module.HTTPConnection = plain  # type: ignore[attr-defined]
        module.HTTPSConnection = secure  # type: ignore[attr-defined]
    elif name == "urllib.request":
        if "HTTPSHandler" not in _original:
            _original["HTTPSHandler"] = getattr(module, "HTTPSHandler", None)
            if _original["HTTPSHandler"] is None:
                module.HTTPSHandler = _https_handler()  # type: ignore[attr-defined]
        module._opener = None  # type: ignore[attr-defined]  # rebuilt with the handlers above


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader, then patches the module (other attributes: the real loader's)."""

    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        if _installed:
            _patch(self._name, module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches ``http.client`` / ``urllib.request`` when something first imports them."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _PATCHED or not _installed:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader, fullname)
        return spec


_finder = _PatchOnImport()


def installed() -> bool:
    """Whether :func:`install` is in effect."""
    return _installed


def install() -> None:
    """Route ``http.client`` and ``urllib.request`` through XMLHttpRequest (idempotent): now
    for the modules already imported, on import for the others."""
    global _installed
    if _installed:
        return
    _installed = True
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    for name in _PATCHED:
        module = sys.modules.get(name)
        if module is not None:
            _patch(name, module)


def uninstall() -> None:
    """Undo :func:`install`."""
    global _installed
    if not _installed:
        return
    _installed = False
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    client = sys.modules.get("http.client")
    if client is not None and "HTTPConnection" in _original:
        client.HTTPConnection = _original["HTTPConnection"]  # type: ignore[attr-defined]
        if _original.get("HTTPSConnection") is None:
            if hasattr(client, "HTTPSConnection"):
                del client.HTTPSConnection  # type: ignore[attr-defined]
        else:
            client.HTTPSConnection = _original["HTTPSConnection"]  # type: ignore[attr-defined]
    request = sys.modules.get("urllib.request")
    if request is not None:
        if "HTTPSHandler" in _original and _original["HTTPSHandler"] is None and hasattr(request, "HTTPSHandler"):
            del request.HTTPSHandler  # type: ignore[attr-defined]
        request._opener = None  # type: ignore[attr-defined]
    _original.clear()
