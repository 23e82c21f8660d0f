"""The Python-Markdown extension: marked fences become island markup, others are untouched."""

from __future__ import annotations

from html.parser import HTMLParser

import markdown
import pytest

from pyodide_host.islands import assign_ids, relative_loader_url, script_tag
from pyodide_host.islands.markdown import AmphiIslandsExtension, parse_info

pytestmark = pytest.mark.timeout(60)


class _Islands(HTMLParser):
    """Collects each island's id, code text, hidden flag, output HTML presence, and scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.islands: list[dict[str, object]] = []
        self.scripts: list[dict[str, str | None]] = []
        self._in_code = False
        self._code_div = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "div" and "amphi-island" in classes:
            self.islands.append({"id": a.get("data-amphi-cell"), "code": "", "hidden": False, "classes": classes})
        elif tag == "div" and "amphi-code" in classes and self.islands:
            self.islands[-1]["hidden"] = "hidden" in a
            self._code_div = True
        elif tag == "div" and "amphi-output" in classes:
            self._code_div = False
        elif tag == "code" and self._code_div:
            self._in_code = True
        elif tag == "script":
            self.scripts.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self._in_code = False

    def handle_data(self, data: str) -> None:
        if self._in_code:
            self.islands[-1]["code"] = str(self.islands[-1]["code"]) + data


def convert(text: str, **config: object) -> str:
    return markdown.markdown(text, extensions=["amphi", "fenced_code"], extension_configs={"amphi": config})


def parse(html: str) -> _Islands:
    parser = _Islands()
    parser.feed(html)
    return parser


PAGE = """\
# Title

```python {.amphi #setup}
from lifecycle import ui
s = ui.slider(1, 10, value=3)
s
```

Some text with `code`.

```python
print("not an island")
```

````markdown
```amphi
inner fences are text
```
````

~~~amphi
if s.value < 5 and "&" != "<":
    print(s.value)
~~~

```{.python .amphi .hide-code .no-edit}
total = s.value * 2
```
"""


def test_marked_fences_become_islands_in_reading_order() -> None:
    html = convert(PAGE)
    found = parse(html)
    assert [i["id"] for i in found.islands] == ["setup", "island-2", "island-3"]
    assert found.islands[0]["code"] == "from lifecycle import ui\ns = ui.slider(1, 10, value=3)\ns"
    # Escaped in HTML, exact once parsed.
    assert found.islands[1]["code"] == 'if s.value < 5 and "&" != "<":\n    print(s.value)'
    assert "&lt; 5 and &quot;&amp;&quot;" in html or "&lt; 5 and \"&amp;\"" in html
    assert found.islands[2]["hidden"] is True
    assert "amphi-no-edit" in found.islands[2]["classes"]
    assert found.islands[0]["hidden"] is False
    # Ordinary fences are fenced_code's, including a fence quoted inside a longer one.
    assert '<code class="language-python">print(&quot;not an island&quot;)' in html
    assert "```amphi\ninner fences are text\n```" in html
    # One script tag, after the last island.
    assert found.scripts == [{"type": "module", "data-amphi-islands": None, "src": "_amphi/islands.js"}]
    assert html.rstrip().endswith(script_tag("_amphi/islands.js"))
    assert html.count('<div class="amphi-output">') == 3


def test_the_markup_shape() -> None:
    html = convert("```amphi\nx = 1\n```\n")
    assert html.strip() == (
        '<div class="amphi-island" data-amphi-cell="island-1"><div class="amphi-code">'
        '<pre><code class="language-python">x = 1</code></pre></div>'
        '<div class="amphi-output"></div></div>'
        '<script type="module" data-amphi-islands src="_amphi/islands.js"></script>'
    )


def test_a_page_without_islands_has_no_script() -> None:
    html = convert("text\n\n```python\nx = 1\n```\n")
    assert "amphi" not in html
    assert "<script" not in html


def test_loader_option_and_module_name() -> None:
    html = markdown.markdown(
        "```amphi\nx = 1\n```\n",
        extensions=["pyodide_host.islands.markdown"],
        extension_configs={"pyodide_host.islands.markdown": {"loader": "../../_amphi/islands.js"}},
    )
    assert parse(html).scripts[0]["src"] == "../../_amphi/islands.js"
    # The class can be given directly too.
    html = markdown.markdown("```amphi\nx = 1\n```\n", extensions=[AmphiIslandsExtension(loader="/x/islands.js")])
    assert parse(html).scripts[0]["src"] == "/x/islands.js"


def test_unclosed_and_indented_fences_are_left_alone() -> None:
    html = convert("    ```amphi\n    x = 1\n    ```\n\n```amphi\nnever closed\n")
    assert "amphi-island" not in html


def test_repeated_and_invalid_ids_get_automatic_ones() -> None:
    html = convert("```{.amphi #a}\n1\n```\n\n```{.amphi #a}\n2\n```\n\n```{.amphi #bad/id}\n3\n```\n")
    assert [i["id"] for i in parse(html).islands] == ["a", "island-2", "island-3"]


def test_parse_info() -> None:
    assert parse_info("amphi").island
    assert parse_info("{amphi}").island
    assert parse_info("python {.amphi}").island
    assert parse_info("{.python .amphi #x .hide-code}").cell_id == "x"
    assert parse_info("{.python .amphi #x .hide-code}").hide_code
    assert not parse_info("python").island
    assert not parse_info("python {.other}").island
    assert not parse_info("").island
    with pytest.raises(ValueError, match="invalid island id"):
        parse_info("{.amphi #no/slashes}")


def test_assign_ids() -> None:
    assert assign_ids([None, "island-2", None]) == ["island-1", "island-2", "island-3"]
    assert assign_ids(["island-1", None]) == ["island-1", "island-2"]
    assert assign_ids([None, "island-1"]) == ["island-2", "island-1"]
    with pytest.raises(ValueError, match="used twice"):
        assign_ids(["a", "a"])
    with pytest.raises(ValueError, match="invalid island id"):
        assign_ids(["has space"])


def test_relative_loader_url() -> None:
    assert relative_loader_url(0) == "_amphi/islands.js"
    assert relative_loader_url(2) == "../../_amphi/islands.js"


def test_prerendered_outputs_are_static_html(tmp_path) -> None:
    (tmp_path / "data.txt").write_text("from a file")
    html = convert(
        "```amphi\nprint(open('data.txt').read())\nx = 6 * 7\nx\n```\n\n```amphi\nx / 0\n```\n",
        prerender=True,
        prerender_cwd=str(tmp_path),
        timeout=120,
    )
    outputs = [part.split('<div class="amphi-output">', 1)[1] for part in html.split('<div class="amphi-island"')[1:]]
    assert len(outputs) == 2
    assert all(o.startswith('<div class="amphi-prerendered">') for o in outputs)
    assert '<div class="console-output stdout"><pre>from a file\n</pre></div>' in outputs[0]
    assert '<pre class="text-output">42</pre>' in outputs[0]
    assert "<strong>ZeroDivisionError</strong>" in outputs[1]
