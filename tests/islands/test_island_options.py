"""Island options shared by the producers: ``autorun`` (``data-amphi-autorun``) in the Sphinx
directive and the Markdown extension, and MyST's ``:option:`` lines at the top of a
```` ```{amphi} ```` fence, which the Markdown extension reads too (one Markdown file for MkDocs
and for Sphinx with MyST-Parser)."""

from __future__ import annotations

import re
from pathlib import Path

import markdown
import pytest

from pyodide_host.islands import parse_autorun, split_option_lines
from pyodide_host.islands.markdown import parse_info
from tests.islands.conftest import sphinx_build

pytestmark = pytest.mark.timeout(120)

OPENING = re.compile(r'<div class="(amphi-island[^"]*)" data-amphi-cell="([^"]+)"([^>]*)><div class="amphi-code"( hidden)?>')


def openings(html: str) -> list[tuple[str, str, str, bool]]:
    """(classes, id, extra attributes, code hidden) of each island, in order."""
    return [(m.group(1), m.group(2), m.group(3).strip(), bool(m.group(4))) for m in OPENING.finditer(html)]


def test_parse_autorun() -> None:
    assert [parse_autorun(v) for v in (None, "", "true", " Yes ", "ON", "1")] == [True] * 6
    assert [parse_autorun(v) for v in ("false", "No", "off", "0")] == [False] * 4
    with pytest.raises(ValueError, match="autorun must be true or false, not 'later'"):
        parse_autorun("later")


def test_split_option_lines() -> None:
    assert split_option_lines([":id: a", ":hide-code:", "", "x = 1", ""]) == ({"id": "a", "hide-code": ""}, ["x = 1", ""])
    assert split_option_lines(["x = 1", ":not: an option"]) == ({}, ["x = 1", ":not: an option"])
    assert split_option_lines([":autorun: false", "y = 2"]) == ({"autorun": "false"}, ["y = 2"])
    assert split_option_lines([]) == ({}, [])
    yaml = ["---", "id: files", 'autorun: "false"', "hide-code:", "---", "x = 1"]
    assert split_option_lines(yaml) == ({"id": "files", "autorun": "false", "hide-code": ""}, ["x = 1"])


def test_markdown_myst_fences_and_autorun_attributes() -> None:
    text = (
        "```{amphi}\n:id: setup\n:hide-code:\n:autorun: false\n\nx = 1\n```\n\n"
        "```{amphi}\n:no-edit:\nprint(x)\n```\n\n"
        "```python {.amphi .no-autorun}\ny = 2\n```\n\n"
        '```{.python .amphi autorun="true" #third}\nz = 3\n```\n\n'
        "```{amphi}\n:autorun: sometimes\n:id: bad id\nw = 4\n```\n"
    )
    html = markdown.markdown(text, extensions=["amphi"])
    assert openings(html) == [
        ("amphi-island", "setup", 'data-amphi-autorun="false"', True),
        ("amphi-island amphi-no-edit", "island-2", "", False),
        ("amphi-island", "island-3", 'data-amphi-autorun="false"', False),
        ("amphi-island", "third", 'data-amphi-autorun="true"', False),
        ("amphi-island", "island-5", "", False),  # invalid values are ignored
    ]
    codes = re.findall(r'<code class="language-python">(.*?)</code>', html, re.S)
    assert codes == ["x = 1", "print(x)", "y = 2", "z = 3", "w = 4"]  # option lines are not code
    assert parse_info("python {.amphi autorun=no}").autorun is False
    assert parse_info("amphi").autorun is None


def test_sphinx_directive_autorun(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["pyodide_host.islands.sphinx"]\namphi_runtime = False\n')
    (src / "index.rst").write_text(
        "Demo\n====\n\n"
        ".. amphi-cell::\n   :autorun: false\n\n   x = 1\n\n"
        ".. amphi::\n   :autorun:\n   :id: second\n\n   y = 2\n\n"
        ".. amphi-cell::\n\n   z = 3\n"
    )
    assert sphinx_build(src, tmp_path / "html") == ""
    html = (tmp_path / "html" / "index.html").read_text()
    assert openings(html) == [
        ("amphi-island", "island-1", 'data-amphi-autorun="false"', False),
        ("amphi-island", "second", 'data-amphi-autorun="true"', False),
        ("amphi-island", "island-3", "", False),
    ]
