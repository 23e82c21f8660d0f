"""Values to mimebundles: :func:`format_value`, following the IPython display protocol.

:func:`format_value` turns any Python object into a ``(mimebundle, metadata)`` pair the way
Jupyter's display formatter does (IPython display protocol, "Rich display" in the IPython docs):

1. ``obj._repr_mimebundle_(include=include, exclude=exclude)``: a bundle, or a
   ``(bundle, metadata)`` tuple; its entries win over the single-type methods below.
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
   ``_repr_pdf_``          ``application/pdf``   ``bytes`` (a base64 ``str`` is decoded)
   ``_repr_javascript_``   ``application/        ``str`` (pages show it as text, never run it)
                           javascript``
   ======================  ====================  =========================================

3. ``text/plain``: the bundle's own, else :func:`lifecycle.pretty.pformat` (which honours
   ``_repr_pretty_``, as IPython's plain-text formatter does), else ``repr``, else
   ``<repr failed: ExcType: message>``.  Always present unless ``include``/``exclude`` leave it
   out.

``include`` / ``exclude`` (collections of MIME types; empty means no filter) work as in
IPython: only the MIME types wanted are computed and kept.  ``_ipython_display_`` is not a
formatter: :func:`ipython_display` calls it (``display()`` and a cell's result do, first).

As in IPython, classes never have their ``_repr_*_`` methods called (only instances), and an
object that claims to have every attribute (a ``__getattr__`` returning something for
``_ipython_canary_method_should_not_exist_``) is treated as having none.  A method that raises
is skipped and its traceback shown the way Jupyter shows a formatter's exception: an error
output of the running cell that does not fail the cell (``cell-error`` with ``fatal=False``,
before the output), or on ``sys.stderr`` outside a cell; ``NotImplementedError`` is skipped
silently.  A method returning the wrong type is skipped with a warning on ``sys.stderr`` (as
IPython's ``FormatterWarning``).  Neither makes formatting fail: the remaining types (at least
``text/plain``) are shown.  Binary payloads are ``bytes`` (msgpack ``bin`` on the wire, never
base64).  A bundle larger than the output limit is replaced by a notice.

Everything here is stdlib + msgspec (and :mod:`lifecycle.context`, :mod:`lifecycle.execution`
for tracebacks, :mod:`lifecycle.pretty`).
"""

from __future__ import annotations

import base64
import binascii
import html as html_lib
import json
from collections.abc import Collection, Mapping
from typing import Any

import msgspec

from lifecycle import context as context_module
from lifecycle.display.reporting import report as _report
from lifecycle.display.reporting import show_errors as _show_errors
from lifecycle.pretty import pformat

__all__ = [
    "BINARY_MIMETYPES",
    "DEFAULT_OUTPUT_MAX_BYTES",
    "REPR_METHODS",
    "format_value",
    "ipython_display",
    "is_displayable_result",
]

DEFAULT_OUTPUT_MAX_BYTES = 10_000_000
"""Output size limit (bytes) when neither ``max_bytes`` nor a kernel context gives one."""

REPR_METHODS: tuple[tuple[str, str], ...] = (
    ("_repr_html_", "text/html"),
    ("_repr_markdown_", "text/markdown"),
    ("_repr_svg_", "image/svg+xml"),
    ("_repr_png_", "image/png"),
    ("_repr_jpeg_", "image/jpeg"),
    ("_repr_latex_", "text/latex"),
    ("_repr_json_", "application/json"),
    ("_repr_pdf_", "application/pdf"),
    ("_repr_javascript_", "application/javascript"),
)
"""The single-type repr methods (IPython display protocol) and the MIME type each provides."""

BINARY_MIMETYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "application/pdf"}
)
"""MIME types whose payload is ``bytes``; a ``str`` payload for them is base64 and decoded."""

_TEXT_MIMETYPES = frozenset({"image/svg+xml", "application/javascript", "application/xml"})
_CANARY = "_ipython_canary_method_should_not_exist_"
_MIMEBUNDLE_METHOD = "_repr_mimebundle_"
_IPYTHON_DISPLAY_METHOD = "_ipython_display_"
_encode_msgpack = msgspec.msgpack.Encoder().encode
MimeTypes = Collection[str] | None
"""``include`` / ``exclude`` arguments: MIME types, or ``None`` (empty: no filter)."""


def is_displayable_result(value: Any) -> bool:
    """Whether a cell's last-expression value produces an output: everything except ``None``
    (as in Jupyter, where ``None`` results show nothing; ``display(None)`` still shows it)."""
    return value is not None


def format_value(
    value: Any,
    *,
    max_bytes: int | None = None,
    include: MimeTypes = None,
    exclude: MimeTypes = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Format ``value`` as a ``(mimebundle, metadata)`` pair (IPython display protocol).

    Args:
        value: any object.
        max_bytes: output size limit in bytes, summed over the bundle's payloads (``str``
            payloads count their UTF-8 bytes, JSON-like ones their msgpack encoding).
            ``None``: the current kernel context's ``output_max_bytes``, else
            :data:`DEFAULT_OUTPUT_MAX_BYTES`.
        include: compute and keep only these MIME types (``None`` or empty: all).
        exclude: do not compute or keep these MIME types.

    Returns:
        ``mimebundle``: MIME type -> payload (``str``, ``bytes`` for binary types, or a
        msgpack-encodable JSON-like value); contains ``text/plain`` unless ``include`` /
        ``exclude`` leave it out (then it may be empty: nothing to show).  ``metadata``: as
        returned by the object (per-type metadata under its MIME type).  A bundle over the limit
        is replaced by a ``text/plain`` + ``text/html`` notice giving its size and the limit,
        with ``metadata["output_too_large"] = {"size", "limit", "mimetypes"}``.

    Never raises for a misbehaving object: only exceptions that are not ``Exception``
    subclasses (``KeyboardInterrupt``, ``SystemExit``) propagate.  Exceptions raised by the
    object's repr methods are shown as described in the module docstring.
    """
    limit = _resolve_limit(max_bytes)
    if not include and not exclude:
        text = _builtin_plain_text(value)
        if text is not None and len(text) <= limit:  # ASCII: characters are bytes
            return {"text/plain": text}, {}
    problems: list[str] = []
    errors: list[BaseException] = []
    try:
        bundle, metadata = _collect(value, problems, errors, include, exclude)
        result = _finish(bundle, metadata, limit, problems)
    except Exception as exc:  # a bug here must not lose the output
        result = ({"text/plain": _failure_text("output could not be formatted", exc)}, {})
    _report(value, problems)
    _show_errors(errors)
    return result


def _builtin_plain_text(value: Any) -> str | None:
    """The bundle's ``text/plain`` for an exact ``int`` (below 2**64 in size), ``float`` or
    ``bool`` (no repr methods, ``repr`` is what :func:`~lifecycle.pretty.pformat` gives), without
    the general lookups: notebooks show many such results (a 1,000-cell run-all, hundreds).
    ``None`` for anything else (subclasses included: they may have repr methods)."""
    kind = type(value)
    if kind is int:
        return repr(value) if value.bit_length() < 64 else None
    if kind is float or kind is bool:
        return repr(value)
    return None


def ipython_display(value: Any) -> bool:
    """Call ``value._ipython_display_()`` if it has one (IPython display protocol: the object
    displays itself, usually with ``display()``); ``True`` if it did, and then nothing else
    is to be shown for it.  Classes and objects claiming every attribute have none (as for
    the repr methods).  A method that raises is shown like a repr method's exception and
    ``False`` is returned (the object is then formatted as usual, as IPython does)."""
    method = _real_method(value, _IPYTHON_DISPLAY_METHOD)
    if method is None:
        return False
    try:
        method()
    except NotImplementedError:
        return False
    except Exception as exc:
        _show_errors([exc])
        return False
    return True


def _wanted(mimetype: Any, include: MimeTypes, exclude: MimeTypes) -> bool:
    """Whether ``include``/``exclude`` keep ``mimetype`` (IPython: empty means no filter)."""
    if include and mimetype not in include:
        return False
    return not (exclude and mimetype in exclude)


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


def _call_mimebundle(method: Any, include: MimeTypes, exclude: MimeTypes) -> Any:
    """Call ``_repr_mimebundle_`` with ``include``/``exclude`` unless it cannot take them."""
    import inspect

    try:
        inspect.signature(method).bind(include=include, exclude=exclude)
    except TypeError:
        return method()
    except ValueError:  # no signature available: assume the protocol's
        pass
    return method(include=include, exclude=exclude)


def _collect(
    value: Any,
    problems: list[str],
    errors: list[BaseException],
    include: MimeTypes = None,
    exclude: MimeTypes = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    bundle: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    method = _real_method(value, _MIMEBUNDLE_METHOD)
    if method is not None:
        try:
            data, md = _split_metadata(_call_mimebundle(method, include, exclude))
        except NotImplementedError:
            data, md = None, None
        except Exception as exc:
            errors.append(exc)
            data, md = None, None
        if isinstance(data, Mapping):
            for mimetype, payload in data.items():
                if _wanted(mimetype, include, exclude):
                    _add(bundle, mimetype, payload, _MIMEBUNDLE_METHOD, problems)
        elif data is not None:
            problems.append(
                f"{_MIMEBUNDLE_METHOD} returned {type(data).__name__}, not a dict; skipped"
            )
        if isinstance(md, Mapping):
            metadata.update(md)
    for name, mimetype in REPR_METHODS:
        if mimetype in bundle or not _wanted(mimetype, include, exclude):
            continue
        method = _real_method(value, name)
        if method is None:
            continue
        try:
            data, md = _split_metadata(method())
        except NotImplementedError:
            continue
        except Exception as exc:
            errors.append(exc)
            continue
        if data is None:
            continue
        if _add(bundle, mimetype, data, name, problems) and md is not None:
            metadata[mimetype] = md
    if "text/plain" not in bundle and _wanted("text/plain", include, exclude):
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
