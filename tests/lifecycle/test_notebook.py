"""Tests for lifecycle.notebook: percent format, ipynb (nbformat 4.5), atomic writes."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import stat
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle.notebook import (
    Cell,
    Notebook,
    NotebookFormatError,
    convert,
    dumps_percent,
    loads_ipynb,
    loads_percent,
    new_cell_id,
    read_notebook,
    validate_ipynb,
    write_notebook,
)

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
EXAMPLE = REPO / "examples" / "formats_percent_demo.py"
HAS_NBFORMAT = importlib.util.find_spec("nbformat") is not None
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(range(256))


def _corpus(sub: str) -> list[Any]:
    files = sorted((CORPUS / sub).glob("*.ipynb"))
    if not files:
        reason = f"notebook corpus not found at {CORPUS / sub}"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
    return [pytest.param(path, id=path.stem) for path in files]


def _shape(nb: Notebook) -> list[tuple[Any, ...]]:
    """What the percent format keeps of each cell."""
    return [(c.kind, c.name, c.options, c.source) for c in nb.cells]


def _count_markers(text: str) -> int:
    return len(re.findall(r"^# %%(?=\s|$)", text, flags=re.MULTILINE))


def _load(tmp_path: Path, text: str, name: str = "nb.py") -> Notebook:
    """Write ``text`` to a real file and read it back as a notebook."""
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return read_notebook(path)


def _round_trip_file(tmp_path: Path, text: str, name: str = "nb.py") -> tuple[Notebook, str]:
    """Write ``text`` to a file, read it, write it to another file; return the new text."""
    src = tmp_path / name
    src.write_bytes(text.encode("utf-8"))
    nb = read_notebook(src)
    dst = tmp_path / f"out_{name}"
    write_notebook(dst, nb)
    return nb, dst.read_bytes().decode("utf-8")


# --------------------------------------------------------------------------------------------
# percent format: hand-written files
# --------------------------------------------------------------------------------------------

HEADER = '''#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Analysis notebook.

Docstrings may hold # comments and blank lines.
"""
# /// script
# requires-python = ">=3.10"
# dependencies = [
#   "msgspec>=0.18",
# ]
# ///

'''

HAND_WRITTEN = {
    "vscode_style": HEADER
    + """# %%
import math

# %% [markdown]
# # A title
#
# Some *markdown* with trailing spaces\x20\x20
# and a line that looks like a marker:
## %% not a cell

# %% compute hide_code=true
radius = 2.0
area = math.pi * radius**2

# %%
print(area)
""",
    "pep8_two_blank_lines": """# %%
import os


def helper():
    return os.sep


# %% second
class Thing:
    pass


# %%
Thing()
""",
    "empty_cells_and_trailing_blank": """# %%

# %% [markdown]

# %% [raw]
# raw text is written as comments

# %%
x = 1


""",
    "options_and_titles": """# %% Load the data [markdown] hide_code=true
# Loading

# %% step 2 n=3 ratio=0.5 label="a b \\"quoted\\"" flag=false
y = 2

# %% [markdown] name="k=v"
# The name above is not a plain title
""",
    "markdown_with_blank_lines_after": """# %% [markdown]
# Intro


# %%
z = 3
""",
    "syntax_errors": """# %%
def broken(:
    return

# %%
print('unclosed
x = = 1
""",
}


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_percent_files_round_trip_byte_identical(tmp_path: Path, name: str) -> None:
    text = HAND_WRITTEN[name]
    nb, written = _round_trip_file(tmp_path, text)
    assert written == text
    assert nb.cells, "every sample has cells"
    assert len({c.id for c in nb.cells}) == len(nb.cells)


def test_example_notebook_round_trips_and_parses(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    nb, written = _round_trip_file(tmp_path, text)
    assert written == text
    assert nb.header.startswith("#!/usr/bin/env python\n")
    assert nb.header.endswith("# ///\n\n")
    assert [(c.kind, c.name) for c in nb.cells] == [
        ("markdown", None),
        ("code", "parameters"),
        ("code", "closed form"),
        ("code", None),
        ("markdown", None),
    ]
    assert nb.cells[1].options == {"hide_code": True}
    assert nb.cells[1].source == "n = 10\n"  # the second blank line before the marker is kept
    assert nb.cells[4].source.endswith("and a `# %%` that is not a marker.")


def test_header_docstring_and_pep723_block_kept_exactly(tmp_path: Path) -> None:
    nb, written = _round_trip_file(tmp_path, HAND_WRITTEN["vscode_style"])
    assert nb.header == HEADER
    assert written.startswith(HEADER + "# %%\nimport math\n")
    assert nb.semantics == "script"
    assert nb.cells[0].source == "import math"


def test_cells_are_parsed_from_markers(tmp_path: Path) -> None:
    nb = _load(tmp_path, HAND_WRITTEN["vscode_style"])
    kinds = [(c.kind, c.name, c.options) for c in nb.cells]
    assert kinds == [
        ("code", None, {}),
        ("markdown", None, {}),
        ("code", "compute", {"hide_code": True}),
        ("code", None, {}),
    ]
    assert nb.cells[1].source == (
        "# A title\n\nSome *markdown* with trailing spaces  \n"
        "and a line that looks like a marker:\n%% not a cell"
    )
    assert nb.cells[2].source == "radius = 2.0\narea = math.pi * radius**2"
    assert nb.cells[3].source == "print(area)"


def test_options_are_typed(tmp_path: Path) -> None:
    nb = _load(tmp_path, HAND_WRITTEN["options_and_titles"])
    first, second, third = nb.cells
    assert (first.kind, first.name, first.options) == (
        "markdown",
        "Load the data",
        {"hide_code": True},
    )
    assert second.name == "step 2"
    assert second.options == {"n": 3, "ratio": 0.5, "label": 'a b "quoted"', "flag": False}
    assert type(second.options["n"]) is int and type(second.options["flag"]) is bool
    assert (third.kind, third.name, third.options) == ("markdown", "k=v", {})


def test_lenient_marker_forms_are_read_then_normalised_once(tmp_path: Path) -> None:
    text = "#%% first hide_code=True tag=plain\nx = 1\n# %% [md]\n#no space\n# %%\ny = 2"
    nb, written = _round_trip_file(tmp_path, text)
    assert _shape(nb) == [
        ("code", "first", {"hide_code": True, "tag": "plain"}, "x = 1"),
        ("markdown", None, {}, "no space"),
        ("code", None, {}, "y = 2"),
    ]
    assert written == (
        '# %% first hide_code=true tag="plain"\nx = 1\n\n'
        "# %% [markdown]\n# no space\n\n# %%\ny = 2\n"
    )
    assert _round_trip_file(tmp_path, written, "again.py")[1] == written


def test_markdown_as_triple_quoted_string_is_read(tmp_path: Path) -> None:
    text = '# %% [markdown]\n"""\n# Heading\n\nText with `code`.\n"""\n\n# %%\nx = 1\n'
    nb, written = _round_trip_file(tmp_path, text)
    assert nb.cells[0].kind == "markdown"
    assert nb.cells[0].source == "# Heading\n\nText with `code`."
    assert written == "# %% [markdown]\n# # Heading\n#\n# Text with `code`.\n\n# %%\nx = 1\n"


def test_marker_like_lines_inside_cells_survive(tmp_path: Path) -> None:
    nb = Notebook(
        cells=[
            Cell(new_cell_id(), "markdown", "%%\n%% md\n# %% heading\n#%%"),
            Cell(new_cell_id(), "code", "# %%\n#%% x\n## %%\ns = '''\n# %%\n'''"),
        ]
    )
    path = tmp_path / "markers.py"
    write_notebook(path, nb)
    text = path.read_text(encoding="utf-8")
    assert _count_markers(text) == 2, text
    assert _shape(read_notebook(path)) == _shape(nb)


def test_plain_script_is_one_code_cell_with_header(tmp_path: Path) -> None:
    script = (
        '#!/usr/bin/env python3\n"""Tool docstring."""\n# /// script\n# dependencies = []\n'
        "# ///\n\n# comment that belongs to the code\nimport sys\n\nprint(sys.argv)\n"
    )
    path = tmp_path / "script.py"
    path.write_text(script, encoding="utf-8")
    nb = read_notebook(path)
    assert nb.header == (
        '#!/usr/bin/env python3\n"""Tool docstring."""\n# /// script\n# dependencies = []\n'
        "# ///\n\n"
    )
    assert _shape(nb) == [
        ("code", None, {}, "# comment that belongs to the code\nimport sys\n\nprint(sys.argv)")
    ]
    write_notebook(path, nb)
    written = path.read_text(encoding="utf-8")
    assert written == nb.header + "# %%\n" + script[len(nb.header) :]
    again = read_notebook(path)
    assert (again.header, _shape(again)) == (nb.header, _shape(nb))


def test_header_only_and_empty_files(tmp_path: Path) -> None:
    for text, cells in [("", 0), ('"""Only a docstring."""\n', 0), ("# a comment\n", 0)]:
        nb, written = _round_trip_file(tmp_path, text)
        assert len(nb.cells) == cells
        assert nb.header == text
        assert written == text


def test_code_before_first_marker_becomes_a_cell(tmp_path: Path) -> None:
    nb, written = _round_trip_file(tmp_path, '"""Doc."""\nimport os\n\n# %%\nx = 1\n')
    assert nb.header == '"""Doc."""\n'
    assert _shape(nb) == [("code", None, {}, "import os"), ("code", None, {}, "x = 1")]
    assert written == '"""Doc."""\n# %%\nimport os\n\n# %%\nx = 1\n'


def test_percent_file_with_syntax_errors_loads(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("def f(:\n    x = \n'''unterminated\n", encoding="utf-8")
    nb = read_notebook(path)
    assert _shape(nb) == [("code", None, {}, "def f(:\n    x = \n'''unterminated")]
    assert nb.header == ""


def test_crlf_and_bom_are_normalised_on_read(tmp_path: Path) -> None:
    path = tmp_path / "windows.py"
    path.write_bytes(b"\xef\xbb\xbf# %%\r\nx = 1\r\n\r\n# %% [markdown]\r\n# Hi\r\n")
    nb = read_notebook(path)
    assert _shape(nb) == [("code", None, {}, "x = 1"), ("markdown", None, {}, "Hi")]
    write_notebook(path, nb)
    assert path.read_bytes() == b"# %%\nx = 1\n\n# %% [markdown]\n# Hi\n"


@pytest.mark.parametrize(
    ("nb", "message"),
    [
        (Notebook(cells=[Cell("a", "code", "x", options={"bad key": 1})]), "option key 'bad key'"),
        (Notebook(cells=[Cell("a", "code", "x", options={"name": "n"})]), "option key 'name'"),
        (Notebook(cells=[Cell("a", "code", "x", options={"n": float("nan")})]), "nan cannot"),
        (Notebook(cells=[Cell("a", "code", "x", options={"tags": ["a"]})]), "list value"),
        (Notebook(cells=[Cell("a", "code", "x")], header="# %%\n"), "marker"),
        (Notebook(cells=[Cell("a", "heading", "x")]), "unknown cell kind"),  # type: ignore[arg-type]
    ],
)
def test_percent_writer_rejects_what_it_cannot_hold(
    tmp_path: Path, nb: Notebook, message: str
) -> None:
    path = tmp_path / "rejected.py"
    with pytest.raises(NotebookFormatError, match=message) as info:
        write_notebook(path, nb)
    assert info.value.cell == (None if "marker" in message else 0)
    assert not path.exists() and os.listdir(tmp_path) == []


# --------------------------------------------------------------------------------------------
# percent format: properties
# --------------------------------------------------------------------------------------------

_TRICKY_LINES = [
    "",
    " ",
    "#",
    "# ",
    "# %%",
    "#%%",
    "## %%",
    "# %% [markdown]",
    "%%",
    "%% x",
    '"""',
    "'''",
    "x = 1",
    "    return x  ",
    "# /// script",
    "# ///",
    "é ✓ 漢字 🎉",
    "\t",
    "a=1",
    "[raw]",
    "trailing  ",
    "\r",
]
_free_text = st.text(
    st.characters(exclude_characters="\n", exclude_categories=("Cs",)), max_size=12
)
_line = st.one_of(st.sampled_from(_TRICKY_LINES), _free_text)
_source = st.lists(_line, max_size=7).map("\n".join)
_name = st.one_of(
    st.none(),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_ ]{0,10}[A-Za-z0-9_]", fullmatch=True),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
    st.sampled_from(["a=1", "x [raw]", "t [markdown] k=2", 'q"uote', "", " pad ", "two\nlines"]),
)
_option_value = st.one_of(
    st.booleans(),
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=10),
)
_options = st.dictionaries(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,8}", fullmatch=True).filter(lambda k: k != "name"),
    _option_value,
    max_size=3,
)
_docstring = st.text(st.sampled_from("abc é\n %*=[]"), max_size=30).map(lambda s: f'"""{s}"""\n')
_header = st.tuples(
    st.sampled_from(["", "#!/usr/bin/env python\n"]),
    st.sampled_from(["", "# -*- coding: utf-8 -*-\n"]),
    st.one_of(st.just(""), _docstring),
    st.sampled_from(["", '# /// script\n# dependencies = ["a"]\n# ///\n']),
    st.sampled_from(["", "# a comment\n", "# c1\n#\n# c2\n"]),
    st.sampled_from(["", "\n", "\n\n"]),
).map("".join)


@st.composite
def _notebooks(draw: st.DrawFn) -> Notebook:
    cells = draw(
        st.lists(
            st.builds(
                lambda kind, source, name, options: Cell(
                    new_cell_id(), kind, source, name=name, options=options
                ),
                st.sampled_from(["code", "markdown", "raw"]),
                _source,
                _name,
                _options,
            ),
            max_size=6,
        )
    )
    return Notebook(cells=cells, header=draw(_header))


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(nb=_notebooks())
def test_percent_write_read_write_is_identical(tmp_path: Path, nb: Notebook) -> None:
    path = tmp_path / "generated.py"
    write_notebook(path, nb)
    first = path.read_bytes()
    back = read_notebook(path)
    assert back.header == nb.header
    assert _shape(back) == _shape(nb)
    write_notebook(path, back)
    assert path.read_bytes() == first


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lines=st.lists(_line, max_size=14), final_newline=st.booleans())
def test_any_text_loads_and_normalises_to_a_fixed_point(
    tmp_path: Path, lines: list[str], final_newline: bool
) -> None:
    text = "\n".join(lines) + ("\n" if final_newline and lines else "")
    first, once = _round_trip_file(tmp_path, text)
    second, twice = _round_trip_file(tmp_path, once, "again.py")
    assert twice == once
    assert _shape(second) == _shape(first)  # normalising loses nothing


# --------------------------------------------------------------------------------------------
# semantics
# --------------------------------------------------------------------------------------------


def test_semantics_from_pep723_block(tmp_path: Path) -> None:
    text = (
        '# /// script\n# dependencies = []\n# [tool.amphikernel]\n# semantics = "strict"\n'
        "# ///\n\n# %%\nx = 1\n"
    )
    nb, written = _round_trip_file(tmp_path, text)
    assert nb.semantics == "strict"
    assert nb.metadata == {"amphikernel": {"semantics": "strict"}}
    assert written == text


def test_setting_semantics_updates_the_header(tmp_path: Path) -> None:
    path = tmp_path / "sem.py"
    path.write_text('"""Doc."""\n\n# %%\nx = 1\n', encoding="utf-8")
    nb = read_notebook(path)
    assert nb.semantics == "script"
    nb.semantics = "strict"
    write_notebook(path, nb)
    assert path.read_text(encoding="utf-8") == (
        '# /// script\n# [tool.amphikernel]\n# semantics = "strict"\n# ///\n\n'
        '"""Doc."""\n\n# %%\nx = 1\n'
    )
    back = read_notebook(path)
    assert back.semantics == "strict"
    back.semantics = "script"
    write_notebook(path, back)
    assert '# semantics = "script"' in path.read_text(encoding="utf-8")
    assert read_notebook(path).semantics == "script"
    with pytest.raises(ValueError, match="semantics"):
        back.semantics = "lazy"  # type: ignore[assignment]


def test_semantics_added_to_an_existing_pep723_block(tmp_path: Path) -> None:
    nb = _load(tmp_path, '# /// script\n# dependencies = ["a"]\n# ///\n\n# %%\nx\n')
    nb.semantics = "strict"
    write_notebook(tmp_path / "nb.py", nb)
    assert (tmp_path / "nb.py").read_text(encoding="utf-8") == (
        '# /// script\n# dependencies = ["a"]\n# [tool.amphikernel]\n# semantics = "strict"\n'
        "# ///\n\n# %%\nx\n"
    )
    assert read_notebook(tmp_path / "nb.py").semantics == "strict"


# --------------------------------------------------------------------------------------------
# ipynb
# --------------------------------------------------------------------------------------------


def _rich_notebook() -> Notebook:
    return Notebook(
        header='"""Header kept in ipynb metadata."""\n\n',
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        cells=[
            Cell("intro", "markdown", "# Title\n\nText"),
            Cell(
                "code-1",
                "code",
                "print('hi')\n1 + 1",
                name="first",
                options={"hide_code": True, "n": 2},
                execution_count=3,
                metadata={"tags": ["setup"]},
                outputs=[
                    {"output_type": "stream", "name": "stdout", "text": "hi\nthere\n"},
                    {
                        "output_type": "execute_result",
                        "execution_count": 3,
                        "data": {"text/plain": "2", "application/json": {"a": [1, 2]}},
                        "metadata": {},
                    },
                    {
                        "output_type": "display_data",
                        "data": {"image/png": PNG, "text/plain": "<Figure>"},
                        "metadata": {"image/png": {"width": 10}},
                        "transient": {"display_id": "x"},
                    },
                    {
                        "output_type": "error",
                        "ename": "ValueError",
                        "evalue": "bad",
                        "traceback": ["Traceback", "ValueError: bad"],
                    },
                ],
            ),
            Cell("raw-1", "raw", "raw\ntext"),
        ],
    )


def test_ipynb_write_shape_and_validation(tmp_path: Path) -> None:
    path = tmp_path / "rich.ipynb"
    write_notebook(path, _rich_notebook())
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert (doc["nbformat"], doc["nbformat_minor"]) == (4, 5)
    assert [c["id"] for c in doc["cells"]] == ["intro", "code-1", "raw-1"]
    markdown, code, raw = doc["cells"]
    assert "outputs" not in markdown and "execution_count" not in markdown
    assert "outputs" not in raw and "execution_count" not in raw
    assert markdown["source"] == ["# Title\n", "\n", "Text"]
    assert code["execution_count"] == 3
    stream, result, display, error = code["outputs"]
    assert stream["text"] == ["hi\n", "there\n"]
    assert result["data"]["application/json"] == {"a": [1, 2]}
    assert result["data"]["text/plain"] == ["2"]
    assert display["data"]["image/png"] == base64.b64encode(PNG).decode()
    assert "transient" not in display
    assert error["traceback"] == ["Traceback", "ValueError: bad"]
    assert code["metadata"] == {
        "tags": ["setup"],
        "amphikernel": {"name": "first", "options": {"hide_code": True, "n": 2}},
    }
    assert doc["metadata"]["amphikernel"] == {"header": '"""Header kept in ipynb metadata."""\n\n'}
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
    assert validate_ipynb(path.read_text(encoding="utf-8")) is True


def test_ipynb_round_trip_keeps_everything(tmp_path: Path) -> None:
    nb = _rich_notebook()
    path = tmp_path / "rich.ipynb"
    write_notebook(path, nb)
    back = read_notebook(path)
    assert back.header == nb.header and back.metadata == nb.metadata
    for got, want in zip(back.cells, nb.cells, strict=True):
        assert (got.id, got.kind, got.source, got.name, got.options) == (
            want.id,
            want.kind,
            want.source,
            want.name,
            want.options,
        )
        assert (got.execution_count, got.metadata) == (want.execution_count, want.metadata)
    outputs = back.cells[1].outputs
    assert outputs[2]["data"]["image/png"] == PNG
    assert outputs[0]["text"] == "hi\nthere\n"
    assert outputs[1]["data"] == {"text/plain": "2", "application/json": {"a": [1, 2]}}
    first = path.read_bytes()
    write_notebook(path, back)
    assert path.read_bytes() == first


def test_ipynb_writer_repairs_ids_and_fills_output_fields(tmp_path: Path) -> None:
    nb = Notebook(
        cells=[
            Cell("same", "code", "a", outputs=[{"output_type": "execute_result", "data": {}}]),
            Cell("same", "code", "b", outputs=[{"output_type": "stream", "text": b"bytes"}]),
            Cell("not valid!", "markdown", ""),
        ]
    )
    path = tmp_path / "ids.ipynb"
    write_notebook(path, nb)
    doc = json.loads(path.read_text(encoding="utf-8"))
    ids = [c["id"] for c in doc["cells"]]
    assert ids[0] == "same" and len(set(ids)) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", i) for i in ids)
    assert doc["cells"][0]["outputs"][0] == {
        "output_type": "execute_result",
        "data": {},
        "metadata": {},
        "execution_count": None,
    }
    assert doc["cells"][1]["outputs"][0] == {
        "output_type": "stream",
        "name": "stdout",
        "text": ["bytes"],
    }
    assert doc["cells"][2]["source"] == []
    assert validate_ipynb(doc) is HAS_NBFORMAT  # False only where nbformat is missing


def test_read_ipynb_variants(tmp_path: Path) -> None:
    doc = {
        "nbformat": 4,
        "nbformat_minor": 0,
        "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "one string"},
            {
                "cell_type": "code",
                "metadata": {},
                "source": ["a = 1\n", "b = 2"],
                "outputs": [],
                "execution_count": None,
            },
            {"cell_type": "heading", "metadata": {}, "source": ["old"], "level": 1},
            {
                "cell_type": "code",
                "id": "keep-me",
                "metadata": {},
                "source": [],
                "outputs": [],
                "execution_count": 7,
            },
            {
                "cell_type": "code",
                "id": "keep-me",
                "metadata": {},
                "source": "dup",
                "outputs": [{"output_type": "stream", "name": "stderr", "text": ["x\n", "y"]}],
            },
        ],
    }
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(doc), encoding="utf-8")
    nb = read_notebook(path)
    assert [(c.kind, c.source) for c in nb.cells] == [
        ("markdown", "one string"),
        ("code", "a = 1\nb = 2"),
        ("raw", "old"),
        ("code", ""),
        ("code", "dup"),
    ]
    assert nb.cells[3].id == "keep-me" and nb.cells[3].execution_count == 7
    assert nb.cells[4].id != "keep-me"
    assert nb.cells[4].outputs == [{"output_type": "stream", "name": "stderr", "text": "x\ny"}]
    assert len({c.id for c in nb.cells}) == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"nbformat": 4, "cells": [', r"bad\.ipynb:1: invalid JSON"),
        ('{\n "nbformat": 4,\n "cells": [}\n', r"bad\.ipynb:3: invalid JSON"),
        ('{"nbformat": 3, "nbformat_minor": 0, "worksheets": []}', "nbformat 3 is not supported"),
        ('{"nbformat": 5, "nbformat_minor": 0, "cells": []}', "nbformat 5 is not supported"),
        ('{"cells": []}', "missing or invalid 'nbformat'"),
        ("[1, 2]", "a notebook is a JSON object, not an array"),
        ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": {}}', "'cells' must be"),
        (
            '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{}, 42]}',
            r"cells\[1\] is not an object but a number",
        ),
        (
            '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, '
            '"cells": [{"cell_type": "code", "source": 3}]}',
            r"cells\[0\]\.source must be a string or a list of strings",
        ),
        (
            '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, '
            '"cells": [{"cell_type": "code", "source": "", "outputs": [1]}]}',
            r"cells\[0\]\.outputs\[0\] is not an output object",
        ),
    ],
)
def test_malformed_ipynb_raises_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(NotebookFormatError, match=message) as info:
        read_notebook(path)
    assert isinstance(info.value, ValueError)
    assert info.value.path == str(path)
    assert str(info.value).startswith(str(path))


def test_malformed_errors_carry_cell_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(b'{"nbformat": 4, "nbformat_minor": 5, "cells": [{}, "x"]}')
    with pytest.raises(NotebookFormatError) as info:
        read_notebook(path)
    assert (info.value.cell, info.value.line) == (1, None)
    path.write_text('{\n\n "nbformat": 4,,\n}', encoding="utf-8")
    with pytest.raises(NotebookFormatError) as info:
        read_notebook(path)
    assert (info.value.cell, info.value.line) == (None, 3)
    assert str(info.value).startswith(f"{path}:3: invalid JSON")


def test_non_utf8_percent_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "latin1.py"
    path.write_bytes("# %%\nname = 'Zoë'\n".encode("latin-1"))
    with pytest.raises(NotebookFormatError, match=r"latin1\.py: not UTF-8"):
        read_notebook(path)


def test_validate_ipynb_rejects_invalid_documents(tmp_path: Path) -> None:
    pytest.importorskip("nbformat")
    cells = [{"id": "c1", "cell_type": "code", "metadata": {}, "source": ""}]  # no outputs
    bad = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}
    path = tmp_path / "invalid.ipynb"
    path.write_text(json.dumps(bad), encoding="utf-8")
    assert read_notebook(path).cells[0].id == "c1"  # reading is lenient...
    with pytest.raises(NotebookFormatError, match="not a valid nbformat 4 notebook"):
        validate_ipynb(path.read_bytes())  # ...validation is not
    with pytest.raises(NotebookFormatError, match="not a valid nbformat 4 notebook"):
        validate_ipynb(bad)
    assert bad["cells"] == [{"id": "c1", "cell_type": "code", "metadata": {}, "source": ""}]
    write_notebook(path, read_notebook(path))  # our writer repairs it
    assert validate_ipynb(path.read_text(encoding="utf-8")) is True


_ipynb_output = st.one_of(
    st.builds(
        lambda name, text: {"output_type": "stream", "name": name, "text": text},
        st.sampled_from(["stdout", "stderr"]),
        _source,
    ),
    st.builds(
        lambda text, blob: {
            "output_type": "display_data",
            "data": {"text/plain": text, "image/png": blob},
            "metadata": {},
        },
        _source,
        st.binary(max_size=40),
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cells=st.lists(
        st.builds(
            lambda kind, source, name, options, outputs: Cell(
                new_cell_id(),
                kind,
                source,
                name=name,
                options=options,
                outputs=outputs if kind == "code" else [],
            ),
            st.sampled_from(["code", "markdown", "raw"]),
            _source,
            _name,
            _options,
            st.lists(_ipynb_output, max_size=2),
        ),
        max_size=5,
    ),
    header=_header,
)
def test_ipynb_round_trip_property(tmp_path: Path, cells: list[Cell], header: str) -> None:
    nb = Notebook(cells=cells, header=header)
    path = tmp_path / "generated.ipynb"
    write_notebook(path, nb)
    assert loads_ipynb(path.read_bytes()) == nb
    assert validate_ipynb(path.read_text(encoding="utf-8")) is HAS_NBFORMAT


# --------------------------------------------------------------------------------------------
# conversions and the real-notebook corpus
# --------------------------------------------------------------------------------------------


def test_convert_percent_to_ipynb_and_back_is_byte_identical(tmp_path: Path) -> None:
    source = tmp_path / "a.py"
    text = HAND_WRITTEN["vscode_style"].replace(
        "# ///\n", '# [tool.amphikernel]\n# semantics = "strict"\n# ///\n', 1
    ) + HAND_WRITTEN["options_and_titles"].replace("# %%", "\n# %%", 1)
    source.write_text(text, encoding="utf-8")
    convert(source, tmp_path / "b.ipynb")
    doc = json.loads((tmp_path / "b.ipynb").read_text(encoding="utf-8"))
    assert doc["metadata"]["amphikernel"]["semantics"] == "strict"
    nb = convert(tmp_path / "b.ipynb", tmp_path / "c.py")
    assert nb.semantics == "strict"
    assert (tmp_path / "c.py").read_bytes() == source.read_bytes()


def test_convert_ipynb_semantics_to_percent_header(tmp_path: Path) -> None:
    nb = Notebook(cells=[Cell(new_cell_id(), "code", "x = 1")])
    nb.semantics = "strict"
    write_notebook(tmp_path / "s.ipynb", nb)
    convert(tmp_path / "s.ipynb", tmp_path / "s.py")
    text = (tmp_path / "s.py").read_text(encoding="utf-8")
    assert text == (
        '# /// script\n# [tool.amphikernel]\n# semantics = "strict"\n# ///\n\n# %%\nx = 1\n'
    )
    assert read_notebook(tmp_path / "s.py").semantics == "strict"


@pytest.mark.parametrize("path", _corpus("notebooks"))
def test_corpus_notebook_reads_and_converts(tmp_path: Path, path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    nb = read_notebook(path)
    assert [c.kind for c in nb.cells] == [c["cell_type"] for c in raw["cells"]]
    for cell, raw_cell in zip(nb.cells, raw["cells"], strict=True):
        assert cell.source == "".join(raw_cell["source"])
        if "id" in raw_cell:
            assert cell.id == raw_cell["id"]
        assert cell.metadata == raw_cell["metadata"]
    assert len({c.id for c in nb.cells}) == len(nb.cells)

    percent = tmp_path / f"{path.stem}.py"
    convert(path, percent)
    text = percent.read_text(encoding="utf-8")
    assert _count_markers(text) == len(nb.cells)
    assert dumps_percent(loads_percent(text)) == text

    back = tmp_path / "back.ipynb"
    convert(percent, back)
    again = read_notebook(back)
    assert [(c.kind, c.source) for c in again.cells] == [(c.kind, c.source) for c in nb.cells]


@pytest.mark.parametrize("path", _corpus("reference/3.12"))
def test_reference_outputs_survive_read_write(tmp_path: Path, path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    raw = json.loads(path.read_text(encoding="utf-8"))
    out = tmp_path / path.name
    write_notebook(out, read_notebook(path))
    text = out.read_text(encoding="utf-8")
    written = json.loads(text)
    assert (written["nbformat"], written["nbformat_minor"]) == (4, 5)
    assert written["metadata"] == raw["metadata"]
    assert len(written["cells"]) == len(raw["cells"])
    n_outputs = 0
    for got, want in zip(written["cells"], raw["cells"], strict=True):
        assert got["source"] == want["source"]
        assert got["metadata"] == want["metadata"]
        if "id" in want:
            assert got["id"] == want["id"]
        if want["cell_type"] == "code":
            assert got["outputs"] == want["outputs"]
            assert got["execution_count"] == want["execution_count"]
            n_outputs += len(got["outputs"])
    assert n_outputs == sum(len(c.get("outputs", [])) for c in raw["cells"])
    nbformat.validate(nbformat.reads(text, as_version=4))
    assert validate_ipynb(text) is True


# --------------------------------------------------------------------------------------------
# atomic writes
# --------------------------------------------------------------------------------------------


def _listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_write_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "nb.py"
    write_notebook(path, Notebook(cells=[Cell("a", "code", "old = 1")]))
    write_notebook(path, Notebook(cells=[Cell("a", "code", "new = 2")]))
    assert path.read_text(encoding="utf-8") == "# %%\nnew = 2\n"
    assert _listing(tmp_path) == ["nb.py"]


@pytest.mark.parametrize(
    ("name", "nb", "message"),
    [
        (
            "nb.ipynb",
            Notebook(cells=[Cell("a", "code", "x")], metadata={"bad": object()}),
            "cannot encode the notebook as JSON",
        ),
        ("nb.ipynb", Notebook(cells=[Cell("a", "code", "\ud800")]), "cannot encode"),
        ("nb.py", Notebook(cells=[Cell("a", "code", "\ud800")]), "cannot encode as UTF-8"),
        ("nb.py", Notebook(cells=[Cell("a", "code", "x", options={"o": {1}})]), "set value"),
    ],
)
def test_failed_serialisation_leaves_old_file_intact(
    tmp_path: Path, name: str, nb: Notebook, message: str
) -> None:
    path = tmp_path / name
    write_notebook(path, Notebook(cells=[Cell("a", "code", "old = 1")]))
    before = path.read_bytes()
    with pytest.raises(NotebookFormatError, match=message) as info:
        write_notebook(path, nb)
    assert info.value.path == str(path)
    assert path.read_bytes() == before
    assert _listing(tmp_path) == [name]


def test_failed_replace_removes_the_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "taken.py"
    target.mkdir()
    (target / "keep").write_text("x", encoding="utf-8")
    with pytest.raises(OSError):
        write_notebook(target, Notebook(cells=[Cell("a", "code", "x")]))
    assert _listing(tmp_path) == ["taken.py"]
    assert _listing(target) == ["keep"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits and symlinks")
def test_write_keeps_mode_and_writes_through_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real.py"
    real.write_text("# %%\nold\n", encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    write_notebook(link, Notebook(cells=[Cell("a", "code", "new")]))
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == "# %%\nnew\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert _listing(tmp_path) == ["link.py", "real.py"]


def test_new_cell_ids_are_short_unique_and_url_safe(tmp_path: Path) -> None:
    nb = _load(tmp_path, "\n".join(f"# %%\nx{i} = {i}\n" for i in range(3000)))
    ids = [cell.id for cell in nb.cells] + [new_cell_id() for _ in range(2000)]
    assert len(nb.cells) == 3000
    assert len(set(ids)) == len(ids)
    for cell_id in ids:
        assert 1 <= len(cell_id) <= 16
        assert urllib.parse.quote(cell_id, safe="") == cell_id
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", cell_id)  # nbformat 4.5 id pattern
    write_notebook(tmp_path / "ids.ipynb", nb)
    assert [c.id for c in read_notebook(tmp_path / "ids.ipynb").cells] == ids[:3000]


def test_cell_and_notebook_defaults_are_independent(tmp_path: Path) -> None:
    a, b = Cell("a", "code", ""), Cell("b", "code", "")
    a.options["k"] = 1
    a.outputs.append({"output_type": "stream", "name": "stdout", "text": ""})
    assert b.options == {} and b.outputs == [] and b.metadata == {}
    assert Notebook().cells == [] and Notebook().semantics == "script"
    write_notebook(tmp_path / "empty.ipynb", Notebook())
    write_notebook(tmp_path / "empty.py", Notebook())
    assert (tmp_path / "empty.py").read_bytes() == b""
    assert read_notebook(tmp_path / "empty.ipynb") == Notebook()
    assert read_notebook(tmp_path / "empty.py") == Notebook()
