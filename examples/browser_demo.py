"""A notebook that also runs in the browser (Pyodide), as a static site:

    amphi export html-wasm examples/browser_demo.py -o site --include-outputs
    python -m http.server -d site

A slider drives the cell below it; the picture and the download are virtual files (served by
the local server with `amphi edit`, by the site's service worker in the browser).
"""

# %% [markdown]
# # Python in your browser
# Move the slider: the cells that read it run again. Nothing here needs a server.

# %% slider
from lifecycle import ui

size = ui.slider(1, 12, value=4, label="Size")
size

# %% squares
squares = [n * n for n in range(1, size.value + 1)]
print(f"{size.value} squares, the largest is {squares[-1]}")
squares

# %% picture
import struct
import zlib

from lifecycle.display import html
from lifecycle.virtual_files import publish


def png(width: int, height: int, pixel) -> bytes:
    """A truecolour PNG, ``pixel(x, y) -> (r, g, b)``."""
    rows = b"".join(
        b"\0" + bytes(channel for x in range(width) for channel in pixel(x, y)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


side = 16 * size.value
picture = publish(png(side, side, lambda x, y: (255 * x // side, 255 * y // side, 160)), "gradient.png")
html(f'<img class="demo-picture" src="{picture}" width="{side}" height="{side}" alt="a {side}x{side} gradient">')

# %% download
from lifecycle.virtual_files import download

download("n,square\n" + "".join(f"{n},{n * n}\n" for n in range(1, size.value + 1)), "squares.csv", label="Download the squares (CSV)")
