"""MkDocs plugin ``amphi``: live Python blocks in an MkDocs site.

``mkdocs.yml``::

    plugins:
      - amphi:
          prerender: false        # run the islands at build time, outputs in the page
          requirements: []        # extra packages for the in-browser kernel

It enables the ``amphi`` Markdown extension (:mod:`pyodide_host.islands.markdown`) when
``markdown_extensions`` does not list it already, points each page's script tag at the
runtime's loader relative to the page (``../_amphi/islands.js`` for ``guide/``), and after
the build writes the runtime into ``<site_dir>/_amphi/`` (only when some page has islands).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from pyodide_host.extras import missing_extra

try:
    from mkdocs.config import config_options as c
    from mkdocs.config.base import Config
    from mkdocs.plugins import BasePlugin, get_plugin_logger
    from mkdocs.utils import get_relative_url
except ImportError as exc:
    raise missing_extra("the MkDocs plugin amphi (pyodide_host.islands.mkdocs_plugin)", "docs", exc) from None

from pyodide_host.islands import LOADER_NAME, RUNTIME_DIR, install_runtime

__all__ = ["AmphiIslandsConfig", "AmphiIslandsPlugin"]

log = get_plugin_logger("amphi")

_EXTENSION_NAMES = ("amphi", "pyodide_host.islands.markdown")
_TAG = re.compile(r'(<script type="module" data-amphi-islands src=")([^"]*)("></script>)')


class AmphiIslandsConfig(Config):
    """The plugin's options."""

    prerender = c.Type(bool, default=False)
    prerender_timeout = c.Type((int, float), default=300)
    requirements = c.ListOfItems(c.Type(str), default=[])
    runtime = c.Type(bool, default=True)
    runtime_dir = c.Type(str, default=RUNTIME_DIR)


class AmphiIslandsPlugin(BasePlugin[AmphiIslandsConfig]):
    """Enables the Markdown extension, fixes script URLs per page, copies the runtime."""

    def __init__(self) -> None:
        self.pages_with_islands = 0

    def on_config(self, config: Any) -> Any:
        extensions: list[Any] = config["markdown_extensions"]
        names = [e if isinstance(e, str) else getattr(e, "__module__", "") for e in extensions]
        name = next((n for n in names if n in _EXTENSION_NAMES), None)
        if name is None:
            name = "amphi"
            extensions.append(name)
        mdx = config["mdx_configs"].setdefault(name, {})
        mdx.setdefault("loader", f"{self.config.runtime_dir}/{LOADER_NAME}")
        if self.config.prerender:
            mdx.setdefault("prerender", True)
            mdx.setdefault("prerender_cwd", str(config["docs_dir"]))
            mdx.setdefault("timeout", float(self.config.prerender_timeout))
        self.pages_with_islands = 0
        return config

    def on_page_content(self, html: str, page: Any, config: Any, files: Any) -> str:
        if "data-amphi-islands" not in html:
            return html
        self.pages_with_islands += 1

        def relative(match: re.Match[str]) -> str:
            src = match.group(2)
            if "://" in src or src.startswith(("/", "data:")):
                return match.group(0)
            # A relative loader URL means "from the site root": make it relative to this page.
            return match.group(1) + get_relative_url(posixpath.normpath(src), page.url) + match.group(3)

        return _TAG.sub(relative, html)

    def on_post_build(self, config: Any) -> None:
        if not self.pages_with_islands or not self.config.runtime:
            return
        site = Path(config["site_dir"])
        log.info("writing the islands runtime to %s", site / self.config.runtime_dir)
        try:
            install_runtime(site, requirements=list(self.config.requirements), runtime_dir=self.config.runtime_dir)
        except RuntimeError as exc:
            log.warning("the islands runtime was not written: %s", exc)
