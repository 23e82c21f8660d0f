"""Python-Markdown extension: fenced blocks marked as islands become live Python cells.

Enable it by its entry point name or module::

    markdown.markdown(text, extensions=["amphi"])
    markdown.markdown(text, extensions=["pyodide_host.islands.markdown"])

(MkDocs: use the ``amphi`` plugin, :mod:`pyodide_host.islands.mkdocs_plugin`, which enables
this extension too.)  Marked fences, at the top level of the document::

    ```amphi                      ```python {.amphi}            ```{.python .amphi #setup}
    x = 1                         x = 1                         x = 1
    ```                           ```                           ```

Attributes in braces: ``#id`` (the cell id, unique on the page), ``.hide-code`` (show only
the outputs), ``.no-edit`` (no Edit button), ``.no-autorun`` (or ``autorun=false``: run only
when the reader presses Run).  ``~~~`` fences work as well.  Other fences are left to
``fenced_code`` (or whatever handles them).

MyST's form works too, so one Markdown file serves MkDocs and a Sphinx site with MyST-Parser
(:mod:`pyodide_host.islands.sphinx`)::

    ```{amphi}
    :id: setup
    :hide-code:
    :autorun: false

    x = 1
    ```

(option lines at the top of the body: ``:id:``, ``:hide-code:``, ``:no-edit:``, ``:autorun:``,
or MyST's ``---`` block of ``name: value`` lines; they override the brace attributes; unknown
ones are ignored).

All islands of one document are cells of one kernel, run in reading order; the document gets
one ``<script type="module" data-amphi-islands src=LOADER>`` tag after its last island.

Options (``extension_configs={"amphi": {...}}``):

* ``loader``: URL of the runtime's loader (default ``_amphi/islands.js``; the MkDocs plugin
  rewrites it relative to each page);
* ``prerender`` (default ``False``): run the islands when converting (one kernel subprocess
  per document) and put their outputs in the HTML;
* ``prerender_cwd``: working directory of that run (default: the current one);
* ``timeout``: seconds allowed for one document's run (default 300).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pyodide_host.extras import missing_extra

try:
    from markdown import Markdown
    from markdown.extensions import Extension
    from markdown.preprocessors import Preprocessor
except ImportError as exc:
    raise missing_extra("the Python-Markdown extension amphi (pyodide_host.islands.markdown)", "docs", exc) from None

from pyodide_host.islands import (
    LOADER_NAME,
    RUNTIME_DIR,
    Island,
    assign_ids,
    check_id,
    island_html,
    parse_autorun,
    script_tag,
    split_option_lines,
)

__all__ = ["AmphiIslandsExtension", "IslandsPreprocessor", "apply_option_lines", "makeExtension", "parse_info"]

_OPEN = re.compile(r"^(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
_ATTRS = re.compile(r"\{(?P<attrs>[^}]*)\}\s*$")


@dataclass
class FenceInfo:
    """What a fence's info string says about a block."""

    island: bool
    cell_id: str | None = None
    hide_code: bool = False
    editable: bool = True
    autorun: bool | None = None


def parse_info(info: str) -> FenceInfo:
    """Parse a fence's info string (the text after the opening backticks).

    Islands: ``amphi``, ``{amphi}``, or any info whose brace attributes contain ``.amphi``
    (``python {.amphi}``, ``{.python .amphi #id .hide-code}``).

    Raises:
        ValueError: an island's ``#id`` is invalid (:func:`pyodide_host.islands.check_id`), or
            its ``autorun=`` value is neither true nor false.
    """
    text = info.strip()
    words: list[str] = []
    match = _ATTRS.search(text)
    if match:
        words = match.group("attrs").split()
        text = text[: match.start()].strip()
    lang = text.split()[0] if text else ""
    island = lang in ("amphi", "{amphi}") or ".amphi" in words or (not lang and words == ["amphi"])
    if not island:
        return FenceInfo(False)
    cell_id = None
    autorun: bool | None = None
    for word in words:
        if word.startswith("#") and len(word) > 1:
            cell_id = check_id(word[1:])
        elif word in (".autorun", "autorun"):
            autorun = True
        elif word in (".no-autorun", "no-autorun"):
            autorun = False
        elif word.startswith("autorun="):
            autorun = parse_autorun(word.split("=", 1)[1].strip("\"'"))
    return FenceInfo(
        True,
        cell_id=cell_id,
        hide_code=".hide-code" in words or "hide-code" in words,
        editable=".no-edit" not in words and "no-edit" not in words,
        autorun=autorun,
    )


def apply_option_lines(info: FenceInfo, body: list[str]) -> list[str]:
    """MyST-style option lines at the top of an island's ``body`` (``:id: x``,
    ``:hide-code:``, ``:no-edit:``, ``:autorun: false``) update ``info``; returns the code
    lines after them.  An invalid ``:id:`` or ``:autorun:`` value is ignored."""
    options, code = split_option_lines(body)
    if "id" in options:
        try:
            info.cell_id = check_id(options["id"].strip())
        except ValueError:
            info.cell_id = None
    if "hide-code" in options:
        info.hide_code = True
    if "no-edit" in options:
        info.editable = False
    if "autorun" in options:
        try:
            info.autorun = parse_autorun(options["autorun"])
        except ValueError:
            pass
    return code


class IslandsPreprocessor(Preprocessor):
    """Replaces marked fences by the islands' HTML (stashed, so no other processor touches
    it) and adds the script tag after the last island."""

    def __init__(self, md: Markdown, extension: AmphiIslandsExtension) -> None:
        super().__init__(md)
        self.extension = extension

    def run(self, lines: list[str]) -> list[str]:
        blocks: list[tuple[int, int, Island]] = []  # (first line, line after the fence, island)
        i = 0
        while i < len(lines):
            opening = _OPEN.match(lines[i])
            if not opening:
                i += 1
                continue
            fence = opening.group("fence")
            end = i + 1
            closing = re.compile(rf"^{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
            while end < len(lines) and not closing.match(lines[end]):
                end += 1
            try:
                info = parse_info(opening.group("info"))
            except ValueError:
                info = FenceInfo(True)  # a bad id: the island gets an automatic one
            if info.island and end < len(lines):
                code = apply_option_lines(info, lines[i + 1 : end])
                island = Island("\n".join(code), info.cell_id, info.hide_code, info.editable, autorun=info.autorun)
                blocks.append((i, end + 1, island))
            i = end + 1  # other fences (and unclosed ones) are skipped whole
        if not blocks:
            return lines
        islands = [b[2] for b in blocks]
        seen: set[str] = set()
        for island in islands:  # a repeated id: the later block gets an automatic one
            if island.cell_id is not None and island.cell_id in seen:
                island.cell_id = None
            elif island.cell_id is not None:
                seen.add(island.cell_id)
        ids = assign_ids([island.cell_id for island in islands])
        if self.extension.getConfig("prerender"):
            self._prerender(islands, ids)
        out: list[str] = []
        previous = 0
        last = len(blocks) - 1
        for n, ((start, stop, island), cell_id) in enumerate(zip(blocks, ids)):
            markup = island_html(island, cell_id)
            if n == last:
                markup += script_tag(self.extension.getConfig("loader"))
            out.extend(lines[previous:start])
            out.extend(["", self.md.htmlStash.store(markup), ""])
            previous = stop
        out.extend(lines[previous:])
        return out

    def _prerender(self, islands: list[Island], ids: list[str]) -> None:
        from pyodide_host.islands.prerender import PrerenderError, run_islands

        cwd = self.extension.getConfig("prerender_cwd") or None
        try:
            outputs, _failed = run_islands(
                [(cell_id, island.source) for island, cell_id in zip(islands, ids)],
                cwd=cwd,
                timeout=float(self.extension.getConfig("timeout")),
            )
        except PrerenderError as exc:
            import logging

            logging.getLogger("amphikernel.islands").warning("islands were not pre-rendered: %s", exc)
            return
        for island, cell_id in zip(islands, ids):
            island.outputs = outputs.get(cell_id) or None


class AmphiIslandsExtension(Extension):
    """The ``amphi`` Markdown extension (see the module docstring for options)."""

    def __init__(self, **kwargs: Any) -> None:
        self.config = {
            "loader": [f"{RUNTIME_DIR}/{LOADER_NAME}", "URL of the islands loader (_amphi/islands.js)"],
            "prerender": [False, "run the islands at conversion time and include their outputs"],
            "prerender_cwd": ["", "working directory of the build-time run"],
            "timeout": [300.0, "seconds allowed for one document's build-time run"],
        }
        super().__init__(**kwargs)

    def extendMarkdown(self, md: Markdown) -> None:
        md.registerExtension(self)
        # After normalize_whitespace (30: it strips the stash placeholders' STX/ETX), before
        # fenced_code and pymdownx.superfences (25), which would take the fences.
        md.preprocessors.register(IslandsPreprocessor(md, self), "amphi_islands", 28)


def makeExtension(**kwargs: Any) -> AmphiIslandsExtension:
    """Python-Markdown's module-level hook: ``extensions=["pyodide_host.islands.markdown"]``."""
    return AmphiIslandsExtension(**kwargs)
