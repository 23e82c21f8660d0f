"""``GET``/``HEAD /@file/<id>-<filename>``: a session's virtual files over HTTP.

The browser key comes from ``?session=`` or else the ``amphi_session`` cookie; a file is served
only if a session bound to that key created it (404 otherwise, exactly as for a file that
does not exist).  A filename part that is not an acceptable filename (``..``, ``/``, NUL, other
control characters) is answered 400.

Responses carry ``Content-Type``, ``Content-Length``, ``Accept-Ranges: bytes`` and an ``ETag``
(the file id: a file's bytes never change).  Byte ranges follow RFC 9110 section 14 (see
:mod:`subprocess_host.server.ranges`): one range gets 206 with ``Content-Range``, an
unsatisfiable one 416 with ``Content-Range: bytes */<length>``; an ``If-Range`` that does
not match the ETag makes the server send the whole file (section 13.1.5).  Files are served
with ``X-Content-Type-Options: nosniff`` and a sandboxing ``Content-Security-Policy``, so an
HTML file opened directly runs in an opaque origin, away from the server's cookies.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from lifecycle.virtual_files import VirtualFileNotFoundError
from subprocess_host.server.auth import SESSION_COOKIE, parse_cookies
from subprocess_host.server.ranges import RangeNotSatisfiable, parse_range
from subprocess_host.server.registry import SessionManager
from subprocess_host.server.vfiles import BadFilePath, FileSource, split_file_path

_INLINE_READ_LIMIT = 1 << 20
"""Files up to this many bytes are copied on the event loop; larger ones in a thread."""


def _not_found() -> Response:
    return PlainTextResponse("404 Not Found\n", status_code=404)


def _headers(source: FileSource) -> dict[str, str]:
    return {
        "Accept-Ranges": "bytes",
        "ETag": f'"{source.file_id}"',
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox allow-scripts allow-downloads allow-popups",
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(source.filename, safe='')}",
    }


async def file_endpoint(request: Request) -> Response:
    """Serve one virtual file (see the module docstring)."""
    manager: SessionManager = request.app.state.manager
    try:
        parts = split_file_path(request.path_params["rest"])
    except BadFilePath as exc:
        return PlainTextResponse(f"400 Bad Request: {exc}\n", status_code=400)
    if parts is None:
        return _not_found()
    key = request.query_params.get("session") or parse_cookies(request.scope["headers"]).get(SESSION_COOKIE)
    source = manager.find_file(key, *parts)
    if source is None:
        return _not_found()
    headers = _headers(source)
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if wanted and if_range is not None and if_range.strip() != headers["ETag"]:
        wanted = None
    try:
        byte_range = parse_range(wanted, source.size)
    except RangeNotSatisfiable as exc:
        headers["Content-Range"] = f"bytes */{exc.length}"
        return PlainTextResponse("416 Range Not Satisfiable\n", status_code=416, headers=headers)
    first, last = (byte_range.first, byte_range.last) if byte_range else (0, source.size - 1)
    count = last - first + 1
    status = 206 if byte_range else 200
    if byte_range:
        headers["Content-Range"] = byte_range.content_range()
    if request.method == "HEAD":
        headers["Content-Length"] = str(count)
        return Response(status_code=status, headers=headers, media_type=source.mimetype)
    try:
        if last + 1 <= _INLINE_READ_LIMIT:
            data = source.read(last + 1)
        else:
            data = await asyncio.to_thread(source.read, last + 1)
    except (VirtualFileNotFoundError, ValueError):
        return _not_found()  # released (or its kernel died) since it was looked up
    return Response(data[first:], status_code=status, headers=headers, media_type=source.mimetype)
