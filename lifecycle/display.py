"""Values to mimebundles, following the IPython display protocol; ``display()`` and helpers.

:func:`format_value` turns any Python object into a ``(mimebundle, metadata)`` pair the way
Jupyter's display formatter does (IPython display protocol, "Rich display" in the IPython docs):

1. ``obj._repr_mimebundle_(include=None, exclude=None)``: a bundle, or a ``(bundle, metadata)``
   tuple; its entries win over the single-type methods below.
2. The single-type methods, each returning the data, a ``(data, metadata)`` tuple, or ``None``
   for "not available" (metadata of one type is stored under that MIME type):

   ======================  ====================  =========================================
   method                  MIME type             payload
   ======================  ====================  =========================================
   ``_repr_html_``         ``text/html``         ``str``
   ``_repr_markdown_``     ``text/markdown``     ``str``
   ``_repr_svg_``          ``image/svg+xml``     ``str``
   ``_repr_png_``          ``image/png``         ``bytes`` (a base64 ``str`` is decoded)
   ``_repr_jpeg_``         ``image/jpeg``        ``bytes`` (a base64 ``str`` is decoded)
   ``_repr_latex_``        ``text/latex``        ``str``
   ``_repr_json_``         ``application/json``  JSON-like value (a JSON ``str`` is parsed)
   ======================  ====================  =========================================

3. ``text/plain``, always present: the bundle's own, else :func:`lifecycle.pretty.pformat`
   (which honours ``_repr_pretty_``, as IPython's plain-text formatter does), else ``repr``, else
   ``<repr failed: ExcType: message>``.

As in IPython, classes never have their ``_repr_*_`` methods called (only instances), and an
object that claims to have every attribute (a ``__getattr__`` returning something for
``_ipython_canary_method_should_not_exist_``) is treated as having none.  A method that raises
or returns the wrong type is skipped and reported on ``sys.stderr`` (Jupyter shows formatter
errors too); it never makes formatting fail.  Binary payloads are ``bytes`` (msgpack ``bin`` on
the wire, never base64).  A bundle larger than the output limit is replaced by a notice.

Author helpers: :func:`display` (send outputs from inside a cell), :func:`md`, :func:`html` and
:func:`image` (objects that display as Markdown, HTML and images).  As in Jupyter, ``display``
is a builtin while a kernel is alive (:func:`install_builtin`): cells call it without an import.

Everything here is stdlib + msgspec, so it runs inside Pyodide.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import html as html_lib
import json
import os
import sys
import threading
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

import msgspec

from lifecycle import context as context_module
from lifecycle.context import NoKernelContextError
from lifecycle.pretty import pformat

__all__ = [
    "DEFAULT_OUTPUT_MAX_BYTES",
    "LARGE_IMAGE_BYTES",
    "REPR_METHODS",
    "Html",
    "Image",
    "Markdown",
    "display",
    "format_value",
    "html",
    "image",
    "is_displayable_result",
    "md",
]

DEFAULT_OUTPUT_MAX_BYTES = 10_000_000
"""Output size limit (bytes) when neither ``max_bytes`` nor a kernel context gives one."""

LARGE_IMAGE_BYTES = 256 * 1024
"""Images larger than this (bytes) are published as virtual files when the kernel has a store."""

REPR_METHODS: tuple[tuple[str, str], ...] = (
    ("_repr_html_", "text/html"),
    ("_repr_markdown_", "text/markdown"),
    ("_repr_svg_", "image/svg+xml"),
    ("_repr_png_", "image/png"),
    ("_repr_jpeg_", "image/jpeg"),
    ("_repr_latex_", "text/latex"),
    ("_repr_json_", "application/json"),
)
"""The single-type repr methods (IPython display protocol) and the MIME type each provides."""

BINARY_MIMETYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "application/pdf"}
)
"""MIME types whose payload is ``bytes``; a ``str`` payload for them is base64 and decoded."""

_TEXT_MIMETYPES = frozenset({"image/svg+xml", "application/javascript", "application/xml"})
_CANARY = "_ipython_canary_method_should_not_exist_"
_MIMEBUNDLE_METHOD = "_repr_mimebundle_"
_encode_msgpack = msgspec.msgpack.Encoder().encode


# ------------------------------------------------------------------------------ formatting


def is_displayable_result(value: Any) -> bool:
    """Whether a cell's last-expression value produces an output: everything except ``None``
    (as in Jupyter, where ``None`` results show nothing; ``display(None)`` still shows it)."""
    return value is not None


def format_value(
    value: Any, *, max_bytes: int | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Format ``value`` as a ``(mimebundle, metadata)`` pair (IPython display protocol).

    Args:
        value: any object.
        max_bytes: output size limit in bytes, summed over the bundle's payloads (``str``
            payloads count their UTF-8 bytes, JSON-like ones their msgpack encoding).
            ``None``: the current kernel context's ``output_max_bytes``, else
            :data:`DEFAULT_OUTPUT_MAX_BYTES`.

    Returns:
        ``mimebundle``: MIME type -> payload (``str``, ``bytes`` for binary types, or a
        msgpack-encodable JSON-like value); always contains ``text/plain``.  ``metadata``: as
        returned by the object (per-type metadata under its MIME type).  A bundle over the limit
        is replaced by a ``text/plain`` + ``text/html`` notice giving its size and the limit,
        with ``metadata["output_too_large"] = {"size", "limit", "mimetypes"}``.

    Never raises for a misbehaving object: only exceptions that are not ``Exception``
    subclasses (``KeyboardInterrupt``, ``SystemExit``) propagate.
    """
    limit = _resolve_limit(max_bytes)
    problems: list[str] = []
    try:
        bundle, metadata = _collect(value, problems)
        result = _finish(bundle, metadata, limit, problems)
    except Exception as exc:  # a bug here must not lose the output
        result = ({"text/plain": _failure_text("output could not be formatted", exc)}, {})
    _report(value, problems)
    return result


def _resolve_limit(max_bytes: int | None) -> int:
    if max_bytes is not None:
        return max_bytes
    ctx = context_module.current_or_none()
    if ctx is not None and isinstance(ctx.output_max_bytes, int):
        return ctx.output_max_bytes
    return DEFAULT_OUTPUT_MAX_BYTES


def _real_method(obj: Any, name: str) -> Any:
    """The bound repr method ``name`` of ``obj``, or ``None`` (as IPython looks them up)."""
    if isinstance(obj, type):
        return None
    try:
        if getattr(obj, _CANARY, None) is not None:
            return None
        method = getattr(obj, name, None)
    except Exception:
        return None
    return method if callable(method) else None


def _split_metadata(result: Any) -> tuple[Any, Any]:
    """``(data, metadata)`` from a repr method's result (a 2-tuple means data + metadata)."""
    if isinstance(result, tuple) and len(result) == 2:
        return result[0], result[1]
    return result, None


def _call_mimebundle(method: Any) -> Any:
    """Call ``_repr_mimebundle_`` with ``include``/``exclude`` unless it cannot take them."""
    import inspect

    try:
        inspect.signature(method).bind(include=None, exclude=None)
    except TypeError:
        return method()
    except ValueError:  # no signature available: assume the protocol's
        pass
    return method(include=None, exclude=None)


def _collect(value: Any, problems: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    bundle: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    method = _real_method(value, _MIMEBUNDLE_METHOD)
    if method is not None:
        try:
            data, md = _split_metadata(_call_mimebundle(method))
        except Exception as exc:
            problems.append(f"{_MIMEBUNDLE_METHOD} raised {_describe(exc)}; its bundle was skipped")
            data, md = None, None
        if isinstance(data, Mapping):
            for mimetype, payload in data.items():
                _add(bundle, mimetype, payload, _MIMEBUNDLE_METHOD, problems)
        elif data is not None:
            problems.append(
                f"{_MIMEBUNDLE_METHOD} returned {type(data).__name__}, not a dict; skipped"
            )
        if isinstance(md, Mapping):
            metadata.update(md)
    for name, mimetype in REPR_METHODS:
        if mimetype in bundle:
            continue
        method = _real_method(value, name)
        if method is None:
            continue
        try:
            data, md = _split_metadata(method())
        except Exception as exc:
            problems.append(f"{name} raised {_describe(exc)}; {mimetype} skipped")
            continue
        if data is None:
            continue
        if _add(bundle, mimetype, data, name, problems) and md is not None:
            metadata[mimetype] = md
    if "text/plain" not in bundle:
        bundle["text/plain"] = _plain_text(value)
    return bundle, metadata


def _add(
    bundle: dict[str, Any], mimetype: Any, payload: Any, source: str, problems: list[str]
) -> bool:
    """Validate and normalise one payload into ``bundle``; ``False`` (and a problem) if unusable."""
    if not isinstance(mimetype, str):
        problems.append(f"{source} returned a non-string MIME type {mimetype!r}; skipped")
        return False
    try:
        bundle[mimetype] = _normalise(mimetype, payload)
    except Exception as exc:  # wrong type, bad base64/JSON, not msgpack-encodable, ...
        problems.append(f"{source} gave an unusable {mimetype} payload ({_describe(exc)}); skipped")
        return False
    return True


def _normalise(mimetype: str, payload: Any) -> Any:
    """The payload in its wire form; raises ``TypeError``/``ValueError`` when it has none."""
    if mimetype in BINARY_MIMETYPES:
        if isinstance(payload, (bytes, bytearray, memoryview)):
            return bytes(payload)
        if isinstance(payload, str):
            try:
                return base64.b64decode("".join(payload.split()), validate=True)
            except binascii.Error as exc:
                raise ValueError(f"a str payload must be base64 ({exc})") from None
        raise TypeError(f"expected bytes, got {type(payload).__name__}")
    if mimetype.startswith("text/") or mimetype in _TEXT_MIMETYPES:
        if isinstance(payload, (bytes, bytearray)):
            payload = bytes(payload).decode("utf-8")
        if not isinstance(payload, str):
            raise TypeError(f"expected str, got {type(payload).__name__}")
        return _valid_utf8(payload)
    if mimetype == "application/json" or mimetype.endswith("+json"):
        if isinstance(payload, (str, bytes)):
            payload = json.loads(payload)
    elif isinstance(payload, str):
        return _valid_utf8(payload)
    elif isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    _encode_msgpack(payload)  # raises TypeError/ValueError/OverflowError if it cannot travel
    return payload


def _valid_utf8(text: str) -> str:
    """``text`` with lone surrogates replaced, so it can be encoded as UTF-8 (msgpack str)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _plain_text(value: Any) -> str:
    """``pformat``, else ``repr``, else a description of the failure (never raises)."""
    try:
        return _valid_utf8(pformat(value))
    except Exception as exc:
        first = exc
    try:
        text = repr(value)
        if isinstance(text, str):
            return _valid_utf8(text)
    except Exception:
        pass
    return _failure_text("repr failed", first)


def _failure_text(what: str, exc: BaseException) -> str:
    try:
        return _valid_utf8(f"<{what}: {_describe(exc)}>")
    except Exception:
        return f"<{what}>"


def _describe(exc: BaseException) -> str:
    try:
        message = str(exc)
    except Exception:
        message = ""
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def _payload_size(payload: Any) -> int:
    if isinstance(payload, str):
        return len(payload.encode("utf-8"))
    if isinstance(payload, bytes):
        return len(payload)
    return len(_encode_msgpack(payload))


def _finish(
    bundle: dict[str, Any], metadata: dict[str, Any], limit: int, problems: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Drop metadata that cannot travel, then apply the size limit."""
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        try:
            if not isinstance(key, str):
                raise TypeError("non-string key")
            _encode_msgpack(value)
        except Exception as exc:
            problems.append(f"metadata {key!r} cannot be sent ({_describe(exc)}); dropped")
            continue
        clean[key] = value
    size = sum(_payload_size(payload) for payload in bundle.values())
    if size > limit:
        return _too_large(size, limit, list(bundle))
    return bundle, clean


def _too_large(
    size: int, limit: int, mimetypes: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The notice that replaces a bundle of ``size`` bytes over the ``limit``."""
    kinds = ", ".join(mimetypes)
    text = (
        f"Output too large to display: {_human_size(size)} ({size:,} bytes of {kinds}) "
        f"exceeds the output limit of {_human_size(limit)} ({limit:,} bytes). "
        "Display a smaller value, or raise the kernel's output_max_bytes setting."
    )
    notice = (
        '<div class="amphi-output-too-large" role="alert"><strong>Output too large to '
        f"display</strong>: {html_lib.escape(_human_size(size))} ({size:,} bytes of "
        f"{html_lib.escape(kinds)}) exceeds the output limit of "
        f"{html_lib.escape(_human_size(limit))} ({limit:,} bytes). Display a smaller value, "
        "or raise the kernel's <code>output_max_bytes</code> setting.</div>"
    )
    meta = {"output_too_large": {"size": size, "limit": limit, "mimetypes": mimetypes}}
    return {"text/plain": text, "text/html": notice}, meta


def _human_size(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        if size < scale * 1000 or unit == "GB":
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"  # pragma: no cover - loop always returns


def _report(value: Any, problems: list[str]) -> None:
    """Tell the user (on stderr, as Jupyter does) which repr methods were skipped and why."""
    if not problems:
        return
    try:
        name = type(value).__name__
        lines = "".join(f"amphikernel display of {name}: {problem}\n" for problem in problems)
        sys.stderr.write(lines)
    except Exception:
        pass


# ------------------------------------------------------------------------------ display()


def display(*objs: Any, metadata: dict[str, Any] | None = None, raw: bool = False) -> None:
    """Show each object as its own output of the running cell (``IPython.display.display``).

    Args:
        objs: the objects; each is formatted with :func:`format_value` (the kernel's
            ``output_max_bytes`` applies) and sent as one ``cell-output`` notification with
            ``kind="display"``.  ``None`` is shown too (as ``None``).
        metadata: merged into every output's metadata (top level).
        raw: the objects are already mimebundles (``dict`` MIME type -> payload); they are
            validated (binary payloads decoded from base64 if needed) but not formatted.

    Raises:
        NoKernelContextError: called outside a running amphikernel cell.
        TypeError: ``raw=True`` and an object is not a dict.
    """
    ctx = context_module.current_or_none()
    if ctx is None or ctx.cell_id is None:
        raise NoKernelContextError(
            "display() can only be called while an amphikernel cell is running"
        )
    for obj in objs:
        if raw:
            bundle, md = _raw_bundle(obj, ctx.output_max_bytes)
        else:
            bundle, md = format_value(obj, max_bytes=ctx.output_max_bytes)
        if metadata:
            md = {**md, **metadata}
        flush = ctx.extensions.get("flush_console")
        if flush is not None:  # what the cell printed before comes first (IPython does too)
            flush()
        ctx.output(bundle, md, kind="display")


_builtin_lock = threading.Lock()
_builtin_users = 0
_builtin_saved: list[Any] = []
_NO_BUILTIN: Any = object()


def install_builtin() -> None:
    """Make :func:`display` a builtin, as IPython does for Jupyter kernels (reference counted;
    :func:`uninstall_builtin` undoes one call, the last one restores what was there)."""
    global _builtin_users
    with _builtin_lock:
        if _builtin_users == 0:
            _builtin_saved[:] = [getattr(builtins, "display", _NO_BUILTIN)]
            builtins.display = display  # type: ignore[attr-defined]
        _builtin_users += 1


def uninstall_builtin() -> None:
    """Undo one :func:`install_builtin`."""
    global _builtin_users
    with _builtin_lock:
        if _builtin_users == 0:
            return
        _builtin_users -= 1
        if _builtin_users == 0:
            saved = _builtin_saved.pop() if _builtin_saved else _NO_BUILTIN
            if saved is _NO_BUILTIN:
                if getattr(builtins, "display", None) is display:
                    del builtins.display  # type: ignore[attr-defined]
            else:
                builtins.display = saved  # type: ignore[attr-defined]


def _raw_bundle(obj: Any, limit: int) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(obj, Mapping):
        raise TypeError(f"display(raw=True) expects mimebundle dicts, got {type(obj).__name__}")
    problems: list[str] = []
    bundle: dict[str, Any] = {}
    for mimetype, payload in obj.items():
        _add(bundle, mimetype, payload, "raw bundle", problems)
    if not bundle:
        bundle["text/plain"] = ""
    result = _finish(bundle, {}, limit, problems)
    _report(obj, problems)
    return result


# --------------------------------------------------------------------------- author helpers


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment (no script/style contents)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _html_text(source: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed (the source if unparsable)."""
    try:
        parser = _TextExtractor()
        parser.feed(source)
        parser.close()
    except Exception:
        return source
    return " ".join("".join(parser.parts).split())


class Html:
    """Displays as HTML (``text/html``; ``text/plain`` is the fragment's visible text).

    Args:
        text: an HTML fragment (``str``).

    Raises:
        TypeError: ``text`` is not a string.
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"html() expects a str, got {type(text).__name__}")
        self.text = text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.text, "text/plain": _html_text(self.text)}

    def __repr__(self) -> str:
        return f"Html({_shorten(self.text)!r})"


class Markdown:
    """Displays as Markdown (``text/markdown``; ``text/plain`` is the Markdown source).

    Args:
        text: Markdown source (``str``).

    Raises:
        TypeError: ``text`` is not a string.
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"md() expects a str, got {type(text).__name__}")
        self.text = text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/markdown": self.text, "text/plain": self.text}

    def __repr__(self) -> str:
        return f"Markdown({_shorten(self.text)!r})"


_IMAGE_FORMATS = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "svg": "image/svg+xml",
    "webp": "image/webp",
}
_IMAGE_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/svg+xml": "svg",
    "image/webp": "webp",
}


def _sniff_image(data: bytes) -> str | None:
    """The image MIME type ``data`` starts like (magic bytes), or ``None``."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (
        head.startswith((b"<?xml", b"<!--", b"<!doctype")) and b"<svg" in head
    ):
        return "image/svg+xml"
    return None


def _format_mimetype(format: str) -> str:
    key = format.lower().strip().lstrip(".")
    if key in _IMAGE_FORMATS:
        return _IMAGE_FORMATS[key]
    if key in _IMAGE_EXTENSIONS:
        return key
    raise ValueError(f"unsupported image format {format!r}; use one of png, jpeg, gif, svg, webp")


class Image:
    """Displays as an image: PNG, JPEG, GIF, WebP (``bytes``) or SVG (``str``).

    Args:
        data: the image bytes, SVG markup (a ``str`` starting with ``<``), or a path
            (``str``/``os.PathLike``) to read the image from.
        format: ``"png"``, ``"jpeg"``/``"jpg"``, ``"gif"``, ``"svg"``, ``"webp"`` (or the MIME
            type); ``None`` detects it from the magic bytes, then from the path's extension.
        width: display width in CSS pixels, or ``None``.
        alt: alternative text.

    Raises:
        ValueError: unknown or undetectable format, or a non-positive ``width``.
        TypeError: ``data`` or ``width`` has the wrong type.
        OSError: reading ``data`` from a path failed.

    The bundle is ``{<image MIME type>: payload, "text/plain": "<image/png, N bytes>"}`` with
    ``width``/``alt`` in the MIME type's metadata.  An image larger than
    :data:`LARGE_IMAGE_BYTES` displayed in a kernel that has a virtual-file store is published
    as a virtual file instead and shown as ``text/html`` ``<img src="@file/...">``.
    """

    def __init__(
        self,
        data: bytes | bytearray | memoryview | str | os.PathLike[str],
        *,
        format: str | None = None,
        width: int | None = None,
        alt: str = "",
    ) -> None:
        if width is not None:
            if not isinstance(width, int) or isinstance(width, bool):
                raise TypeError(f"width must be an int, got {type(width).__name__}")
            if width <= 0:
                raise ValueError(f"width must be positive, got {width}")
        if not isinstance(alt, str):
            raise TypeError(f"alt must be a str, got {type(alt).__name__}")
        path: str | None = None
        if isinstance(data, (bytes, bytearray, memoryview)):
            raw = bytes(data)
        elif isinstance(data, str) and data.lstrip().startswith("<"):
            raw = data.encode("utf-8")
        elif isinstance(data, (str, os.PathLike)):
            path = os.fspath(data)
            with open(path, "rb") as file:
                raw = file.read()
        else:
            raise TypeError(f"image() expects bytes, SVG text or a path, got {type(data).__name__}")
        if format is not None:
            mimetype = _format_mimetype(format)
        else:
            sniffed = _sniff_image(raw)
            extension = os.path.splitext(path)[1] if path else ""
            if sniffed is not None:
                mimetype = sniffed
            elif extension:
                mimetype = _format_mimetype(extension)
            else:
                raise ValueError("cannot detect the image format; pass format='png' (or jpeg, ...)")
        self.mimetype = mimetype
        self.data: bytes | str = raw.decode("utf-8") if mimetype == "image/svg+xml" else raw
        self.size = len(raw)
        self.width = width
        self.alt = alt

    @property
    def filename(self) -> str:
        """The file name used when the image is published as a virtual file."""
        return f"image.{_IMAGE_EXTENSIONS[self.mimetype]}"

    def _plain(self) -> str:
        return f"<{self.mimetype}, {self.size} bytes>"

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if self.size > LARGE_IMAGE_BYTES:
            url = self._publish()
            if url is not None:
                width = f' width="{self.width}"' if self.width is not None else ""
                tag = (
                    f'<img src="{html_lib.escape(url, quote=True)}" '
                    f'alt="{html_lib.escape(self.alt, quote=True)}"{width}>'
                )
                return {"text/html": tag, "text/plain": self._plain()}, {}
        options: dict[str, Any] = {}
        if self.width is not None:
            options["width"] = self.width
        if self.alt:
            options["alt"] = self.alt
        metadata = {self.mimetype: options} if options else {}
        return {self.mimetype: self.data, "text/plain": self._plain()}, metadata

    def _publish(self) -> str | None:
        """Publish the bytes as a virtual file of the running cell; ``None`` to inline them
        (no kernel, no store, or publishing unavailable/failed)."""
        ctx = context_module.current_or_none()
        if ctx is None or ctx.virtual_files is None or ctx.cell_id is None:
            return None
        try:
            from lifecycle import virtual_files

            publish = virtual_files.publish
        except (ImportError, AttributeError):
            return None
        payload = self.data.encode("utf-8") if isinstance(self.data, str) else self.data
        try:
            url = publish(payload, self.filename, self.mimetype)
        except Exception as exc:
            _report(self, [f"publishing as a virtual file failed ({_describe(exc)}); inlined"])
            return None
        return url if isinstance(url, str) else None

    def __repr__(self) -> str:
        extra = f", width={self.width}" if self.width is not None else ""
        return f"Image({self.mimetype}, {self.size} bytes{extra})"


def md(text: str) -> Markdown:
    """An object that displays ``text`` (Markdown source) rendered: ``text/markdown``.

    Raises:
        TypeError: ``text`` is not a string.
    """
    return Markdown(text)


def html(text: str) -> Html:
    """An object that displays ``text`` (an HTML fragment) rendered: ``text/html``.

    Raises:
        TypeError: ``text`` is not a string.
    """
    return Html(text)


def image(
    data: bytes | bytearray | memoryview | str | os.PathLike[str],
    *,
    format: str | None = None,
    width: int | None = None,
    alt: str = "",
) -> Image:
    """An object that displays an image; see :class:`Image` for the arguments and errors."""
    return Image(data, format=format, width=width, alt=alt)
