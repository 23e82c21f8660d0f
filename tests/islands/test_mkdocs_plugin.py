"""The MkDocs plugin through real ``mkdocs build`` runs (no runtime copy: ``runtime: false``;
``test_sites.py`` builds with it and runs the page)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

PAGE = """\
# Page

```amphi
x = 20 + 1
print("x is", x)
```

```python {.amphi #last}
x * 2
```
"""


def build(root: Path, yml: str) -> subprocess.CompletedProcess[str]:
    (root / "docs" / "a" / "b").mkdir(parents=True)
    (root / "docs" / "index.md").write_text("# Home\n\nNothing live here.\n")
    (root / "docs" / "a" / "b" / "deep.md").write_text(PAGE)
    (root / "mkdocs.yml").write_text("site_name: t\ntheme:\n  name: mkdocs\n  highlightjs: false\n" + yml)
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(root / "mkdocs.yml")],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def test_plugin_enables_the_extension_and_fixes_the_script_url(tmp_path: Path) -> None:
    proc = build(tmp_path, "use_directory_urls: false\nplugins:\n  - search\n  - amphi:\n      runtime: false\n")
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "site" / "a" / "b" / "deep.html").read_text()
    assert html.count('class="amphi-island"') == 2
    assert 'data-amphi-cell="island-1"' in html and 'data-amphi-cell="last"' in html
    assert '<script type="module" data-amphi-islands src="../../_amphi/islands.js"></script>' in html
    assert "amphi" not in (tmp_path / "site" / "index.html").read_text()
    assert not (tmp_path / "site" / "_amphi").exists()


def test_plugin_prerender_and_an_explicit_extension_entry(tmp_path: Path) -> None:
    yml = (
        "markdown_extensions:\n  - amphi\n"
        "plugins:\n  - search\n  - amphi:\n      runtime: false\n      prerender: true\n"
    )
    proc = build(tmp_path, yml)
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "site" / "a" / "b" / "deep" / "index.html").read_text()
    assert html.count('class="amphi-island"') == 2  # the extension ran once, not twice
    assert '<div class="console-output stdout"><pre>x is 21\n</pre></div>' in html
    assert '<pre class="text-output">42</pre>' in html
    assert '<script type="module" data-amphi-islands src="../../../_amphi/islands.js"></script>' in html
