"""Author helpers for text: :func:`md` (Markdown) and :func:`html` (HTML fragments)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

__all__ = ["Html", "Markdown", "html", "md"]


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
