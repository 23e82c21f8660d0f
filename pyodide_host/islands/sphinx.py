"""Sphinx extension: live Python blocks ("islands") in HTML documentation.

``conf.py``::

    extensions = ["pyodide_host.islands.sphinx"]
    amphi_prerender = False      # run the islands at build time and put their outputs in the page
    amphi_requirements = []      # extra packages for the in-browser kernel (PEP 508 strings)

A page::

    .. amphi-cell::
       :id: setup            (optional; default island-N)
       :hide-code:           (optional: show only the outputs)
       :no-edit:             (optional: no Edit button)
       :autorun: false       (optional: run only when the reader presses Run; default true)

       from lifecycle import ui
       s = ui.slider(1, 10, value=3, label="n")
       s

The same directive is registered as ``amphi`` too, which is what MyST Markdown
(``extensions = ["myst_parser", "pyodide_host.islands.sphinx"]``) uses for fences::

    ```{amphi}
    :id: setup
    :hide-code:

    s = ui.slider(1, 10, value=3, label="n")
    ```

(MyST's YAML option block, ``---`` ... ``---`` at the top of the fence, works as well.)

Every ``amphi-cell`` of a page is a cell of one kernel (one Web Worker per page), run in
reading order with script semantics; UI elements in one block re-run the blocks that read
them.  Pages with islands get one ``<script type="module" data-amphi-islands>`` tag, and at
``build-finished`` the runtime is written to ``<outdir>/_amphi/``
(:func:`pyodide_host.islands.install_runtime`) once per build.  Non-HTML builders render the
blocks as ordinary Python code blocks.

Configuration values:

* ``amphi_prerender`` (bool, default ``False``): run each page's islands in a kernel
  subprocess while reading the page (:mod:`subprocess_host.headless`, working directory: the
  page's source directory) and show their outputs until the browser's kernel replaces them.
* ``amphi_prerender_timeout`` (seconds, default 300): per page.
* ``amphi_requirements`` (list of str): packages the browser kernel installs.
* ``amphi_runtime`` (bool, default ``True``): copy the runtime at the end of the build
  (``False`` for builds that only check the markup).
* ``amphi_runtime_dir`` (str, default ``"_amphi"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pyodide_host.extras import missing_extra

try:
    from docutils import nodes
    from docutils.parsers.rst import directives
    from sphinx.application import Sphinx
    from sphinx.util import logging
    from sphinx.util.docutils import SphinxDirective
except ImportError as exc:
    raise missing_extra("the Sphinx extension pyodide_host.islands.sphinx", "docs", exc) from None

from pyodide_host.islands import (
    LOADER_NAME,
    RUNTIME_DIR,
    assign_ids,
    check_id,
    install_runtime,
    island_close,
    island_open,
    parse_autorun,
    script_tag,
)

__all__ = ["AmphiCellDirective", "amphi_island", "setup"]

logger = logging.getLogger(__name__)

_ENV_KEY = "amphi_island_docs"


class amphi_island(nodes.General, nodes.Element):
    """One island: attributes ``cell_id`` (str or ``None`` until the page is read),
    ``source``, ``hide_code``, ``editable``, ``autorun`` (bool or ``None``), ``outputs_html``;
    its child is the code's ``literal_block``."""


def _autorun(argument: str | None) -> bool:
    """docutils option converter for ``:autorun:`` (:func:`pyodide_host.islands.parse_autorun`)."""
    return parse_autorun(argument)


class AmphiCellDirective(SphinxDirective):
    """``.. amphi-cell::`` (or ``amphi``, MyST's ```` ```{amphi} ````) with the Python code
    as content.

    Options: ``:id:`` (cell id, unique on the page), ``:hide-code:``, ``:no-edit:``,
    ``:autorun:`` (``true``/``false``; a bare flag is ``true``).
    An invalid or repeated id is reported as a warning at the block (the id is then
    assigned automatically).
    """

    has_content = True
    required_arguments = 0
    optional_arguments = 0
    option_spec: ClassVar[dict[str, Any]] = {
        "id": directives.unchanged,
        "hide-code": directives.flag,
        "no-edit": directives.flag,
        "autorun": _autorun,
    }

    def run(self) -> list[nodes.Node]:
        source = "\n".join(self.content)
        cell_id = (self.options.get("id") or "").strip() or None
        if cell_id is not None:
            try:
                check_id(cell_id)
            except ValueError as exc:
                logger.warning("%s", exc, location=self.get_location())
                cell_id = None
        node = amphi_island(
            cell_id=cell_id,
            source=source,
            hide_code="hide-code" in self.options,
            editable="no-edit" not in self.options,
            autorun=self.options.get("autorun"),
            outputs_html="",
        )
        self.set_source_info(node)
        literal = nodes.literal_block(source, source)
        literal["language"] = "python"
        literal["classes"].append("amphi-source")
        self.set_source_info(literal)
        node += literal
        return [node]


# ------------------------------------------------------------------------------ reading


def _islands(doctree: nodes.Node) -> list[amphi_island]:
    return list(doctree.findall(amphi_island))


def _on_doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    islands = _islands(doctree)
    env = app.env
    docs: set[str] = getattr(env, _ENV_KEY, set())
    setattr(env, _ENV_KEY, docs)
    if not islands:
        docs.discard(env.docname)
        return
    docs.add(env.docname)
    seen: set[str] = set()
    for island in islands:
        cell_id = island["cell_id"]
        if cell_id is not None and cell_id in seen:
            logger.warning("island id %r is used twice on this page; the second one gets an automatic id", cell_id, location=island)
            island["cell_id"] = None
        elif cell_id is not None:
            seen.add(cell_id)
    for island, cell_id in zip(islands, assign_ids([island["cell_id"] for island in islands])):
        island["cell_id"] = cell_id
    if app.config.amphi_prerender:
        _prerender(app, env.docname, islands)


def _prerender(app: Sphinx, docname: str, islands: list[amphi_island]) -> None:
    from pyodide_host.islands.prerender import PrerenderError, outputs_html, run_islands

    cwd = Path(app.env.doc2path(docname)).parent
    cells = [(island["cell_id"], island["source"]) for island in islands]
    try:
        outputs, failed = run_islands(cells, cwd=cwd, timeout=float(app.config.amphi_prerender_timeout))
    except PrerenderError as exc:
        logger.warning("amphi: islands of %s were not pre-rendered: %s", docname, exc, location=docname)
        return
    for island in islands:
        island["outputs_html"] = outputs_html(outputs.get(island["cell_id"], []))
        if island["cell_id"] in failed:
            logger.info("amphi: island %s of %s raised an error at build time", island["cell_id"], docname, location=island)


def _on_purge_doc(app: Sphinx, env: Any, docname: str) -> None:
    getattr(env, _ENV_KEY, set()).discard(docname)


def _on_merge_info(app: Sphinx, env: Any, docnames: set[str], other: Any) -> None:
    docs: set[str] = getattr(env, _ENV_KEY, set())
    docs.update(getattr(other, _ENV_KEY, set()))
    setattr(env, _ENV_KEY, docs)


# ------------------------------------------------------------------------------ writing


def _visit_html(self: Any, node: amphi_island) -> None:
    self.body.append(
        island_open(node["cell_id"] or "", hide_code=node["hide_code"], editable=node["editable"], autorun=node.get("autorun"))
    )


def _depart_html(self: Any, node: amphi_island) -> None:
    self.body.append(island_close(node["outputs_html"]))


def _visit_other(self: Any, node: amphi_island) -> None:
    """Other builders (LaTeX, text, man...): the code block alone."""


def _depart_other(self: Any, node: amphi_island) -> None:
    pass


def _on_html_page_context(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    if doctree is None or doctree.next_node(amphi_island) is None:
        return
    src = context["pathto"](f"{app.config.amphi_runtime_dir}/{LOADER_NAME}", resource=True)
    context["body"] = context.get("body", "") + script_tag(src)


def _on_build_finished(app: Sphinx, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html" or not app.config.amphi_runtime:
        return
    if not getattr(app.env, _ENV_KEY, None):
        return
    outdir = Path(app.outdir)
    logger.info("amphi: writing the islands runtime to %s", outdir / app.config.amphi_runtime_dir)
    try:
        install_runtime(
            outdir,
            requirements=list(app.config.amphi_requirements),
            runtime_dir=app.config.amphi_runtime_dir,
        )
    except RuntimeError as exc:
        logger.warning("amphi: the islands runtime was not written: %s", exc)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the ``amphi-cell`` directive, its node, the configuration values and the
    event handlers (see the module docstring)."""
    app.add_config_value("amphi_prerender", False, "env", bool)
    app.add_config_value("amphi_prerender_timeout", 300.0, "env", (int, float))
    app.add_config_value("amphi_requirements", [], "html", list)
    app.add_config_value("amphi_runtime", True, "html", bool)
    app.add_config_value("amphi_runtime_dir", RUNTIME_DIR, "html", str)
    other = (_visit_other, _depart_other)
    app.add_node(
        amphi_island,
        html=(_visit_html, _depart_html),
        latex=other,
        text=other,
        man=other,
        texinfo=other,
    )
    app.add_directive("amphi-cell", AmphiCellDirective)
    app.add_directive("amphi", AmphiCellDirective)  # MyST: ```{amphi}
    app.connect("doctree-read", _on_doctree_read)
    app.connect("env-purge-doc", _on_purge_doc)
    app.connect("env-merge-info", _on_merge_info)
    app.connect("html-page-context", _on_html_page_context)
    app.connect("build-finished", _on_build_finished)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 2}
