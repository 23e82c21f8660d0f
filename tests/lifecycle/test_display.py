"""Tests of lifecycle.display: the IPython display protocol, display() and the author helpers.

Everything runs against real objects: a real :class:`KernelContext` whose ``emit`` appends the
notifications to a list, real repr methods, the real protocol codec.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lifecycle import context, protocol
from lifecycle.context import KernelContext, NoKernelContextError
from lifecycle.display import (
    DEFAULT_OUTPUT_MAX_BYTES,
    LARGE_IMAGE_BYTES,
    Html,
    Image,
    Markdown,
    display,
    format_value,
    html,
    image,
    is_displayable_result,
    md,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(64)
GIF = b"GIF89a" + bytes(32)
WEBP = b"RIFF" + (40).to_bytes(4, "little") + b"WEBPVP8 " + bytes(32)
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'


class Kernel:
    """A real kernel context made current, with the notifications it emitted."""

    def __init__(self, **kwargs: Any) -> None:
        self.sent: list[Any] = []
        self.ctx = KernelContext(self.sent.append, **kwargs)
        self.ctx.cell_id = "c1"

    @property
    def outputs(self) -> list[protocol.CellOutput]:
        return [n for n in self.sent if isinstance(n, protocol.CellOutput)]


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    token = context.activate(k.ctx)
    try:
        yield k
    finally:
        context.deactivate(token)


def activated(k: Kernel) -> Any:
    """Context manager form of the fixture, for kernels with custom settings."""

    class _Active:
        def __enter__(self) -> Kernel:
            self.token = context.activate(k.ctx)
            return k

        def __exit__(self, *exc: object) -> None:
            context.deactivate(self.token)

    return _Active()


# ----------------------------------------------------------------------------- display()


def test_display_sends_one_output_per_object(kernel: Kernel) -> None:
    display(1, "two", [3])
    assert [(o.cell_id, o.kind, o.data) for o in kernel.outputs] == [
        ("c1", "display", {"text/plain": "1"}),
        ("c1", "display", {"text/plain": "'two'"}),
        ("c1", "display", {"text/plain": "[3]"}),
    ]


def test_display_none_shows_none_and_no_args_shows_nothing(kernel: Kernel) -> None:
    display()
    assert kernel.outputs == []
    display(None)
    assert kernel.outputs[0].data == {"text/plain": "None"}


def test_display_merges_metadata(kernel: Kernel) -> None:
    display(image(PNG, width=20), metadata={"isolated": True})
    out = kernel.outputs[0]
    assert out.metadata == {"image/png": {"width": 20}, "isolated": True}


def test_display_raw_bundles(kernel: Kernel) -> None:
    b64 = base64.b64encode(PNG).decode()
    display({"image/png": b64, "text/plain": "a picture"}, raw=True)
    assert kernel.outputs[0].data == {"image/png": PNG, "text/plain": "a picture"}
    with pytest.raises(TypeError, match="mimebundle"):
        display("not a bundle", raw=True)


def no_kernel() -> None:
    """Skip when another test left a kernel context registered process-wide (the fallback)."""
    if context.current_or_none() is not None:
        pytest.skip("a kernel context is registered in this process")


def test_display_outside_a_cell_raises() -> None:
    no_kernel()
    with pytest.raises(NoKernelContextError, match="display\\(\\)"):
        display(1)


def test_display_in_a_kernel_between_cells_raises() -> None:
    k = Kernel()
    k.ctx.cell_id = None
    with activated(k), pytest.raises(NoKernelContextError, match="cell is running"):
        display(1)
    assert k.sent == []


def test_display_output_survives_the_protocol_codec(kernel: Kernel) -> None:
    display(image(PNG), {"nested": [1.5, None, True]})
    for out in kernel.outputs:
        decoded = protocol.decode_notification(protocol.encode(out))
        assert decoded == out
    png = protocol.decode_notification(protocol.encode(kernel.outputs[0]))
    assert isinstance(png, protocol.CellOutput)
    assert type(png.data["image/png"]) is bytes
    assert png.data["image/png"] == PNG


def test_display_uses_the_kernels_output_limit() -> None:
    k = Kernel(output_max_bytes=100)
    with activated(k):
        display("x" * 200)
        display("small")
    big, small = k.outputs
    assert "Output too large" in big.data["text/plain"]
    assert big.metadata["output_too_large"]["limit"] == 100
    assert small.data == {"text/plain": "'small'"}


# ------------------------------------------------------------------------ repr protocol


class Everything:
    """Implements every single-type repr method, some with metadata."""

    def _repr_html_(self) -> str:
        return "<b>html</b>"

    def _repr_markdown_(self) -> tuple[str, dict[str, Any]]:
        return "**md**", {"trusted": True}

    def _repr_svg_(self) -> str:
        return SVG

    def _repr_png_(self) -> bytes:
        return PNG

    def _repr_jpeg_(self) -> tuple[bytes, dict[str, Any]]:
        return JPEG, {"width": 4}

    def _repr_latex_(self) -> str:
        return r"$\alpha$"

    def _repr_json_(self) -> dict[str, Any]:
        return {"a": [1, 2.5, None]}

    def __repr__(self) -> str:
        return "Everything()"


def test_every_repr_method() -> None:
    bundle, metadata = format_value(Everything())
    assert bundle == {
        "text/html": "<b>html</b>",
        "text/markdown": "**md**",
        "image/svg+xml": SVG,
        "image/png": PNG,
        "image/jpeg": JPEG,
        "text/latex": r"$\alpha$",
        "application/json": {"a": [1, 2.5, None]},
        "text/plain": "Everything()",
    }
    assert metadata == {"text/markdown": {"trusted": True}, "image/jpeg": {"width": 4}}


def test_none_means_not_available() -> None:
    class Maybe:
        def _repr_html_(self) -> None:
            return None

        def _repr_png_(self) -> tuple[None, dict[str, Any]]:
            return None, {"ignored": True}

    value = Maybe()
    assert format_value(value) == (
        {"text/plain": f"<{__name__}.{Maybe.__qualname__} at 0x{id(value):x}>"},
        {},
    )


def test_base64_png_and_json_strings_are_decoded() -> None:
    class Encoded:
        def _repr_png_(self) -> str:
            return base64.encodebytes(PNG).decode()  # with newlines, as some libraries do

        def _repr_jpeg_(self) -> bytearray:
            return bytearray(JPEG)

        def _repr_json_(self) -> str:
            return '{"k": [true, null]}'

    bundle, _ = format_value(Encoded())
    assert bundle["image/png"] == PNG
    assert bundle["image/jpeg"] == JPEG and type(bundle["image/jpeg"]) is bytes
    assert bundle["application/json"] == {"k": [True, None]}


def test_mimebundle_wins_and_other_methods_fill_in() -> None:
    seen: list[Any] = []

    class Bundled:
        def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
            seen.append((include, exclude))
            return (
                {"text/html": "<i>bundle</i>", "application/vnd.custom+json": {"x": 1}},
                {"text/html": {"isolated": True}},
            )

        def _repr_html_(self) -> str:
            return "<i>method</i>"

        def _repr_markdown_(self) -> str:
            return "*md*"

        def _repr_pretty_(self, p: Any, cycle: bool) -> None:
            p.text("Bundled!")

    bundle, metadata = format_value(Bundled())
    assert bundle == {
        "text/html": "<i>bundle</i>",
        "application/vnd.custom+json": {"x": 1},
        "text/markdown": "*md*",
        "text/plain": "Bundled!",
    }
    assert metadata == {"text/html": {"isolated": True}}
    assert seen == [(None, None)]


def test_mimebundle_text_plain_and_binary_strings() -> None:
    class Bundled:
        def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
            return {"text/plain": "custom", "image/png": base64.b64encode(PNG).decode()}

    class NoArgs:
        def _repr_mimebundle_(self) -> dict[str, Any]:
            return {"text/markdown": "# title"}

    assert format_value(Bundled()) == ({"text/plain": "custom", "image/png": PNG}, {})
    bundle, _ = format_value(NoArgs())
    assert bundle["text/markdown"] == "# title"
    assert bundle["text/plain"].startswith("<")  # the default object form


def test_text_plain_follows_the_pretty_printer() -> None:
    class Pretty:
        def _repr_pretty_(self, p: Any, cycle: bool) -> None:
            with p.group(2, "P(", ")"):
                p.pretty(list(range(3)))

    assert format_value(Pretty())[0] == {"text/plain": "P([0, 1, 2])"}
    text = format_value(list(range(30)))[0]["text/plain"]
    assert text.startswith("[0,\n 1,\n 2,\n")
    assert format_value({3, 1, 2})[0]["text/plain"] == "{1, 2, 3}"


def test_classes_never_get_their_repr_methods_called() -> None:
    class Rich:
        def _repr_html_(self) -> str:
            return "<b>instance</b>"

    assert format_value(Rich)[0] == {"text/plain": f"{__name__}.{Rich.__qualname__}"}
    assert "text/html" in format_value(Rich())[0]


def test_objects_claiming_every_attribute_get_only_text_plain() -> None:
    class Anything:
        def __getattr__(self, name: str) -> Any:
            return lambda *args, **kwargs: "<b>surprise</b>"

        def __repr__(self) -> str:
            return "Anything()"

    assert format_value(Anything()) == ({"text/plain": "Anything()"}, {})


def test_is_displayable_result() -> None:
    assert not is_displayable_result(None)
    for value in (0, "", [], False, Ellipsis, md("x")):
        assert is_displayable_result(value)


# ------------------------------------------------------------------------ failing reprs


class BrokenRepr:
    def __repr__(self) -> str:
        raise ValueError("boom")


def test_raising_repr_gives_a_description() -> None:
    assert format_value(BrokenRepr()) == ({"text/plain": "<repr failed: ValueError: boom>"}, {})
    assert format_value([1, BrokenRepr()])[0] == {"text/plain": "<repr failed: ValueError: boom>"}


def test_raising_repr_html_is_skipped_and_reported(capsys: pytest.CaptureFixture[str]) -> None:
    class BadHtml:
        def _repr_html_(self) -> str:
            raise RuntimeError("no html today")

        def _repr_markdown_(self) -> str:
            return "fine"

        def __repr__(self) -> str:
            return "BadHtml()"

    assert format_value(BadHtml()) == ({"text/markdown": "fine", "text/plain": "BadHtml()"}, {})
    err = capsys.readouterr().err  # outside a cell: the traceback, on stderr
    assert err.startswith("Traceback (most recent call last):")
    assert "in _repr_html_" in err and err.endswith("RuntimeError: no html today\n")
    assert "formatting.py" not in err  # the runtime's own frames are left out


def test_raising_repr_pretty_falls_back_to_repr() -> None:
    class BadPretty:
        def _repr_pretty_(self, p: Any, cycle: bool) -> None:
            raise TypeError("pretty broke")

        def __repr__(self) -> str:
            return "BadPretty()"

    assert format_value(BadPretty())[0] == {"text/plain": "BadPretty()"}


def test_everything_raising_still_produces_text() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("even str fails")

    class Hopeless:
        def _repr_mimebundle_(self, **kwargs: Any) -> Any:
            raise Unprintable

        def _repr_html_(self) -> str:
            raise Unprintable

        def __repr__(self) -> str:
            raise Unprintable

    bundle, metadata = format_value(Hopeless())
    assert bundle == {"text/plain": "<repr failed: Unprintable>"}
    assert metadata == {}


def test_wrong_payload_types_are_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    class Wrong:
        def _repr_html_(self) -> int:
            return 42

        def _repr_png_(self) -> str:
            return "not base64 !!!"

        def _repr_json_(self) -> dict[str, Any]:
            return {"too big": 2**80}

        def _repr_mimebundle_(self, **kwargs: Any) -> Any:
            return {1: "non-string key", "text/markdown": object()}, "not a dict"

        def __repr__(self) -> str:
            return "Wrong()"

    assert format_value(Wrong()) == ({"text/plain": "Wrong()"}, {})
    err = capsys.readouterr().err
    for mimetype in ("text/html", "image/png", "application/json", "text/markdown"):
        assert mimetype in err


def test_unencodable_metadata_is_dropped() -> None:
    class BadMeta:
        def _repr_html_(self) -> tuple[str, Any]:
            return "<p/>", {"fine": 1, "bad": object()}

    bundle, metadata = format_value(BadMeta())
    assert bundle["text/html"] == "<p/>"
    assert metadata == {}  # the whole per-type entry could not be sent


def test_lone_surrogates_are_replaced() -> None:
    class Surrogate:
        def _repr_html_(self) -> str:
            return "a\ud800b"

    bundle, _ = format_value(Surrogate())
    assert bundle["text/html"] == "a?b"
    protocol.encode(protocol.CellOutput(cell_id="c", data=bundle))


# ---------------------------------------------------------------------------- size limit


def test_size_limit_replaces_the_bundle_with_a_notice() -> None:
    bundle, metadata = format_value(image(PNG), max_bytes=100)
    size = len(PNG) + len(f"<image/png, {len(PNG)} bytes>")
    assert set(bundle) == {"text/plain", "text/html"}
    assert f"{size:,} bytes" in bundle["text/plain"]
    assert "100 bytes" in bundle["text/plain"]
    assert "image/png" in bundle["text/plain"]
    assert f"{size:,} bytes" in bundle["text/html"] and "100 bytes" in bundle["text/html"]
    assert metadata == {
        "output_too_large": {"size": size, "limit": 100, "mimetypes": ["image/png", "text/plain"]}
    }


def test_size_limit_counts_utf8_bytes_and_is_inclusive() -> None:
    text = "é" * 10  # 10 characters, 20 bytes, repr adds 2 quote bytes
    assert format_value(text, max_bytes=22)[0] == {"text/plain": repr(text)}
    assert "Output too large" in format_value(text, max_bytes=21)[0]["text/plain"]


def test_default_limit_without_a_kernel() -> None:
    no_kernel()
    assert DEFAULT_OUTPUT_MAX_BYTES == 10_000_000
    big = "x" * (DEFAULT_OUTPUT_MAX_BYTES + 1)
    assert "Output too large" in format_value(big)[0]["text/plain"]
    assert "10,000,000 bytes" in format_value(big)[0]["text/plain"]


# ------------------------------------------------------------------------ author helpers


def test_md_and_html() -> None:
    assert format_value(md("# Title\n\ntext")) == (
        {"text/markdown": "# Title\n\ntext", "text/plain": "# Title\n\ntext"},
        {},
    )
    bundle, _ = format_value(html("<p>Hello <b>world</b></p><script>alert(1)</script>"))
    assert bundle == {
        "text/html": "<p>Hello <b>world</b></p><script>alert(1)</script>",
        "text/plain": "Hello world",
    }
    assert isinstance(md("x"), Markdown) and isinstance(html("x"), Html)
    assert repr(md("# hi")) == "Markdown('# hi')"
    assert repr(html("<p>" + "x" * 100)).endswith("…')")
    with pytest.raises(TypeError):
        md(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        html(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "mimetype"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")],
)
def test_image_detects_binary_formats(data: bytes, mimetype: str) -> None:
    img = image(data)
    assert isinstance(img, Image)
    assert img.mimetype == mimetype
    assert format_value(img) == (
        {mimetype: data, "text/plain": f"<{mimetype}, {len(data)} bytes>"},
        {},
    )


def test_image_svg_from_text_and_bytes() -> None:
    for data in (SVG, SVG.encode(), b'<?xml version="1.0"?>\n' + SVG.encode()):
        bundle, _ = format_value(image(data))
        assert set(bundle) == {"image/svg+xml", "text/plain"}
        assert isinstance(bundle["image/svg+xml"], str)
        assert "<svg" in bundle["image/svg+xml"]


def test_image_from_path_format_width_and_alt(tmp_path: Path) -> None:
    path = tmp_path / "picture.png"
    path.write_bytes(PNG)
    img = image(path, width=120, alt="a chart")
    assert repr(img) == f"Image(image/png, {len(PNG)} bytes, width=120)"
    bundle, metadata = format_value(img)
    assert bundle["image/png"] == PNG
    assert metadata == {"image/png": {"width": 120, "alt": "a chart"}}
    assert image(str(path)).mimetype == "image/png"
    # unknown magic: the extension, then an explicit format, decide
    raw = tmp_path / "raw.jpg"
    raw.write_bytes(b"no magic here")
    assert image(raw).mimetype == "image/jpeg"
    assert image(b"no magic here", format="gif").mimetype == "image/gif"
    assert image(PNG, format="image/webp").mimetype == "image/webp"


def test_image_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot detect"):
        image(b"no magic here")
    with pytest.raises(ValueError, match="unsupported image format"):
        image(PNG, format="bmp")
    with pytest.raises(ValueError, match="positive"):
        image(PNG, width=0)
    with pytest.raises(TypeError):
        image(PNG, width="100")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        image(12)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        image(tmp_path / "missing.png")


def _large_png() -> bytes:
    return PNG + bytes(LARGE_IMAGE_BYTES)


def test_large_image_is_inlined_without_a_virtual_file_store(kernel: Kernel) -> None:
    assert kernel.ctx.virtual_files is None
    data = _large_png()
    display(image(data))
    assert kernel.outputs[0].data == {
        "image/png": data,
        "text/plain": f"<image/png, {len(data)} bytes>",
    }


def test_large_image_is_published_as_a_virtual_file() -> None:
    virtual_files = pytest.importorskip("lifecycle.virtual_files")
    if not hasattr(virtual_files, "InMemoryStore") or not hasattr(virtual_files, "publish"):
        pytest.skip("lifecycle.virtual_files has no InMemoryStore/publish yet")
    store = virtual_files.InMemoryStore()
    k = Kernel(virtual_files=store)
    data = _large_png()
    with activated(k):
        display(image(data, alt='say "cheese"', width=50), image(PNG))
    large, small = k.outputs
    assert set(large.data) == {"text/html", "text/plain"}
    assert large.data["text/plain"] == f"<image/png, {len(data)} bytes>"
    tag = large.data["text/html"]
    assert tag.startswith('<img src="@file/') and '-image.png"' in tag
    assert 'alt="say &quot;cheese&quot;"' in tag and 'width="50"' in tag
    url = tag.split('"')[1]
    assert store.read(url) == data
    assert small.data["image/png"] == PNG  # small images stay inline
    store.shutdown()


def test_large_image_outside_a_cell_formats_inline() -> None:
    no_kernel()
    data = _large_png()
    bundle, _ = format_value(image(data))
    assert bundle["image/png"] == data


def test_image_bytes_are_copied() -> None:
    buffer = bytearray(PNG)
    img = image(memoryview(buffer))
    buffer[:4] = b"XXXX"
    assert img.data == PNG
