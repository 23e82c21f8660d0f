"""Cell magics that display their body: ``%%html``, ``%%markdown``, ``%%latex``, ``%%svg``,
``%%javascript`` / ``%%js`` (shown where the page allows scripts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lifecycle import context as context_mod
from lifecycle.magics.base import MagicCall

__all__ = ["CELL_MAGICS"]


def _displayer(mimetype: str, kind: str) -> Callable[[MagicCall], None]:
    def show(call: MagicCall) -> None:
        ctx = context_mod.current()
        flush = ctx.extensions.get("flush_console")
        if flush is not None:
            flush()
        # text/plain as in Jupyter, where these magics display IPython.display objects
        plain = f"<IPython.core.display.{kind} object>"
        ctx.output({mimetype: call.body or "", "text/plain": plain}, kind="display")

    show.__doc__ = f"``%%{mimetype.split('/')[-1]}``: show the cell's body as ``{mimetype}``."
    return show


CELL_MAGICS: dict[str, Any] = {
    "html": _displayer("text/html", "HTML"),
    "markdown": _displayer("text/markdown", "Markdown"),
    "latex": _displayer("text/latex", "Latex"),
    "svg": _displayer("image/svg+xml", "SVG"),
    "javascript": _displayer("application/javascript", "Javascript"),
    "js": _displayer("application/javascript", "Javascript"),
}
LINE_MAGICS: dict[str, Any] = {}
