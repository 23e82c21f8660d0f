"""The Sphinx extension, through real ``sphinx.application.Sphinx`` builds (no runtime copy:
``amphi_runtime = False``; the browser tests build with it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.islands.conftest import sphinx_build

pytestmark = pytest.mark.timeout(120)

INDEX = """\
Demo
====

.. toctree::

   guide/islands
   plain

Intro text.
"""

ISLANDS = """\
Islands
=======

.. amphi-cell::

   from lifecycle import ui
   s = ui.slider(1, 10, value=3, label="n")
   s

Between the blocks.

.. amphi-cell::
   :id: square

   print("hello")
   sq = s.value ** 2
   sq

.. amphi-cell::
   :hide-code:
   :no-edit:

   f"{sq} < 100 & done"

.. code-block:: python

   not_an_island = True
"""

PLAIN = """\
Plain
=====

.. code-block:: python

   x = 1
"""


def make_project(root: Path, conf: str = "") -> Path:
    src = root / "src"
    (src / "guide").mkdir(parents=True)
    (src / "conf.py").write_text(
        'project = "islands"\nextensions = ["pyodide_host.islands.sphinx"]\namphi_runtime = False\n' + conf
    )
    (src / "index.rst").write_text(INDEX)
    (src / "guide" / "islands.rst").write_text(ISLANDS)
    (src / "plain.rst").write_text(PLAIN)
    return src


def islands_of(html: str) -> list[str]:
    return re.findall(r'<div class="amphi-island[^"]*" data-amphi-cell="[^"]*">.*?<div class="amphi-output">', html, re.S)


def test_directive_markup_and_script_tag(tmp_path: Path) -> None:
    src = make_project(tmp_path)
    warnings = sphinx_build(src, tmp_path / "out")
    assert warnings == ""
    page = (tmp_path / "out" / "guide" / "islands.html").read_text()
    blocks = islands_of(page)
    assert len(blocks) == 3
    ids = [re.search(r'data-amphi-cell="([^"]*)"', b).group(1) for b in blocks]  # type: ignore[union-attr]
    assert ids == ["island-1", "square", "island-3"]
    # The code is Sphinx's highlighted literal block inside .amphi-code; its text is the source.
    text = re.sub(r"<[^>]+>", "", blocks[1].split('<div class="amphi-code">', 1)[1])
    assert text.strip() == 'print("hello")\nsq = s.value ** 2\nsq'
    assert 'class="highlight"' in blocks[0]
    # Options: hidden code, no Edit button.
    assert blocks[2].startswith('<div class="amphi-island amphi-no-edit" data-amphi-cell="island-3">')
    assert '<div class="amphi-code" hidden>' in blocks[2]
    assert "&lt; 100 &amp; done" in blocks[2]
    # No pre-rendering by default: empty output areas.
    assert page.count('<div class="amphi-output"></div>') == 3
    # One script tag, relative to this page (one directory down), after the last island.
    tags = re.findall(r"<script[^>]*data-amphi-islands[^>]*></script>", page)
    assert tags == ['<script type="module" data-amphi-islands src="../_amphi/islands.js"></script>']
    assert page.index(tags[0]) > page.rindex('class="amphi-island')
    # Pages without islands get nothing; no runtime was written (amphi_runtime = False).
    for name in ("plain.html", "index.html"):
        assert "amphi" not in (tmp_path / "out" / name).read_text()
    assert not (tmp_path / "out" / "_amphi").exists()


def test_ids_are_checked(tmp_path: Path) -> None:
    src = make_project(tmp_path)
    (src / "guide" / "islands.rst").write_text(
        "Ids\n===\n\n.. amphi-cell::\n   :id: a\n\n   1\n\n.. amphi-cell::\n   :id: a\n\n   2\n\n"
        ".. amphi-cell::\n   :id: not valid\n\n   3\n"
    )
    warnings = sphinx_build(src, tmp_path / "out")
    assert "used twice" in warnings
    assert "invalid island id" in warnings
    page = (tmp_path / "out" / "guide" / "islands.html").read_text()
    assert re.findall(r'data-amphi-cell="([^"]*)"', page) == ["a", "island-2", "island-3"]


def test_other_builders_show_plain_code(tmp_path: Path) -> None:
    src = make_project(tmp_path)
    warnings = sphinx_build(src, tmp_path / "text", builder="text")
    assert warnings == ""
    text = (tmp_path / "text" / "guide" / "islands.txt").read_text()
    assert "s = ui.slider(1, 10, value=3, label=\"n\")" in text
    assert "sq = s.value ** 2" in text


def test_prerendered_outputs(tmp_path: Path) -> None:
    src = make_project(tmp_path, "amphi_prerender = True\n")
    warnings = sphinx_build(src, tmp_path / "out")
    assert warnings == ""
    page = (tmp_path / "out" / "guide" / "islands.html").read_text()
    outputs = [part.split('<div class="amphi-output">', 1)[1] for part in page.split('<div class="amphi-island')[1:]]
    # The slider: a disabled look-alike until the live one replaces it.
    assert '<input type="range" disabled min="1" max="10" step="1" value="3">' in outputs[0]
    assert '<div class="console-output stdout"><pre>hello\n</pre></div>' in outputs[1]
    assert '<pre class="text-output">9</pre>' in outputs[1]
    assert "<pre class=\"text-output\">'9 &lt; 100 &amp; done'</pre>" in outputs[2]

