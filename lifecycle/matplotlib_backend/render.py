"""A figure as a mimebundle, the way Jupyter's inline backend renders it.

For each enabled format (:class:`~lifecycle.matplotlib_backend.state.FigureState.formats`)
the figure is printed with ``figure.canvas.print_figure`` at the figure's own dpi (twice it
for ``retina``), with the figure's face and edge colours and the format keyword arguments
(default ``bbox_inches="tight"``):

==================  ==================  ====================================================
format              MIME type           payload / metadata
==================  ==================  ====================================================
``png``             ``image/png``       PNG bytes
``retina``/``png2x``  ``image/png``     PNG bytes at 2x dpi; metadata ``{"width", "height"}``
                                        = pixel size / 2 (shown at the figure's size)
``jpeg``/``jpg``    ``image/jpeg``      JPEG bytes (needs Pillow)
``svg``             ``image/svg+xml``   SVG text
``pdf``             ``application/pdf``  PDF bytes
==================  ==================  ====================================================

``text/plain`` is ``repr(figure)`` (``<Figure size 640x480 with 1 Axes>``).  A figure with no
axes and no lines renders no image (only the text), as in Jupyter.  A figure whose face is
transparent gets ``metadata["needs_background"]`` (``"light"`` or ``"dark"``: the background
its tick labels need), as Jupyter's inline backend sets it.

Rendering holds a process-wide lock: kernels that are threads of one process never run
matplotlib's renderer at the same time.  Imports matplotlib only through the figure given.
"""

from __future__ import annotations

import io
import struct
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any

__all__ = ["MIMETYPES", "png_size", "render_figure", "render_lock"]

MIMETYPES: Mapping[str, str] = {
    "png": "image/png",
    "png2x": "image/png",
    "retina": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
}
"""Figure format -> the MIME type of its output."""

_SAVE_FORMAT = {"png": "png", "png2x": "png", "retina": "png", "jpg": "jpg", "jpeg": "jpg", "svg": "svg", "pdf": "pdf"}

render_lock = threading.RLock()
"""Held while matplotlib renders a figure (matplotlib is not thread-safe)."""


def render_figure(
    figure: Any,
    formats: Sequence[str] = ("png",),
    kwargs: Mapping[str, Any] | None = None,
    *,
    include: Collection[str] | None = None,
    exclude: Collection[str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Render ``figure`` as ``(mimebundle, metadata)``.

    Args:
        figure: a ``matplotlib.figure.Figure``.
        formats: figure formats (keys of :data:`MIMETYPES`); a later format of the same MIME
            type replaces an earlier one.
        kwargs: keyword arguments for ``print_figure`` (override the defaults above);
            ``None``: ``{"bbox_inches": "tight"}``.
        include: if given, only these MIME types are rendered (``text/plain`` is always
            there); ``exclude``: MIME types not rendered (IPython's ``_repr_mimebundle_``
            arguments).

    Returns:
        ``bundle`` (``text/plain`` plus one payload per format: ``bytes``, or ``str`` for SVG)
        and ``metadata`` (per-MIME-type metadata, plus ``needs_background``).

    Raises:
        Exception: whatever matplotlib raises while drawing the figure (bad data, a missing
            Pillow for JPEG...).
    """
    bundle: dict[str, Any] = {"text/plain": repr(figure)}
    metadata: dict[str, Any] = {}
    if not figure.axes and not figure.lines:
        return bundle, metadata
    options = dict(kwargs) if kwargs is not None else {"bbox_inches": "tight"}
    for fmt in formats:
        mimetype = MIMETYPES[fmt]
        if (include is not None and mimetype not in include) or (exclude and mimetype in exclude):
            continue
        data = _print(figure, fmt, options)
        metadata.pop(mimetype, None)
        if fmt in ("retina", "png2x"):
            width, height = png_size(data)
            metadata[mimetype] = {"width": width // 2, "height": height // 2}
        bundle[mimetype] = data.decode("utf-8") if fmt == "svg" else data
    background = _needs_background(figure)
    if background is not None:
        metadata["needs_background"] = background
    return bundle, metadata


def _print(figure: Any, fmt: str, options: Mapping[str, Any]) -> bytes:
    dpi = figure.dpi * 2 if fmt in ("retina", "png2x") else figure.dpi
    settings: dict[str, Any] = {
        "format": _SAVE_FORMAT[fmt],
        "facecolor": figure.get_facecolor(),
        "edgecolor": figure.get_edgecolor(),
        "dpi": dpi,
    }
    settings.update(options)
    buffer = io.BytesIO()
    with render_lock:
        canvas = figure.canvas
        if canvas is None:  # pragma: no cover - a Figure always has a canvas since matplotlib 3.x
            from matplotlib.backend_bases import FigureCanvasBase

            canvas = FigureCanvasBase(figure)
        canvas.print_figure(buffer, **settings)
    return buffer.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` in pixels of a PNG (from its IHDR chunk, PNG spec 11.2.2).

    Raises:
        ValueError: ``data`` is not a PNG.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _needs_background(figure: Any) -> str | None:
    """``"light"``/``"dark"`` when the face is transparent and all tick labels share one
    lightness (dark labels need a light background), else ``None``."""
    from matplotlib import colors  # the figure exists: matplotlib is imported

    if colors.to_rgba(figure.get_facecolor())[3] >= 0.5:
        return None
    light: set[bool] = set()
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            for label in axis.get_ticklabels():
                red, green, blue, _ = colors.to_rgba(label.get_color())
                light.add(0.299 * red + 0.587 * green + 0.114 * blue > 0.5)
    if len(light) != 1:
        return None
    return "dark" if light.pop() else "light"
