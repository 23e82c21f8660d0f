"""How deeply a msgpack frame nests, measured without decoding it (:func:`nested_too_deep`).

The lowest lifecycle layer (standard library only): :mod:`lifecycle.protocol` uses it to refuse
frames that would overflow the WebAssembly stack in Pyodide before msgspec's own check fires.
"""

from __future__ import annotations

MAX_NESTING = 500
"""Default limit of :func:`nested_too_deep` (container levels)."""

# Bytes that follow a msgpack type byte (0xc4-0xdf) before the next value; -1, -2, -4: a
# length of 1, 2 or 4 bytes, then that many bytes (+1 for ext types).
_SKIP = {
    0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
    0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8, 0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17,
}  # fmt: skip
_LENGTH = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4, 0xC7: 1, 0xC8: 2, 0xC9: 4}
_CONTAINER = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}


def nested_too_deep(frame: bytes | bytearray | memoryview, limit: int = MAX_NESTING) -> bool:
    """Whether msgpack ``frame`` nests arrays/maps more than ``limit`` levels deep.

    Walks the frame's structure without decoding it (strings and binaries are skipped by
    their length; cost: one step per value).  A truncated or malformed frame answers
    ``False``: the decoder reports it.  Never raises."""
    data = bytes(frame)
    size = len(data)
    if size <= limit:
        return False
    pos = 0
    left = [1]  # values still to read at each open level
    while left:
        if left[-1] == 0:
            left.pop()
            continue
        left[-1] -= 1
        if pos >= size:
            return False
        byte = data[pos]
        pos += 1
        if byte <= 0x7F or byte >= 0xE0:
            continue
        count = 0
        if byte <= 0x8F:
            count = (byte & 0x0F) * 2
        elif byte <= 0x9F:
            count = byte & 0x0F
        elif byte <= 0xBF:
            pos += byte & 0x1F
        elif byte in _SKIP:
            pos += _SKIP[byte]
        elif byte in _LENGTH:
            width = _LENGTH[byte]
            pos += width + int.from_bytes(data[pos : pos + width], "big") + (1 if byte in (0xC7, 0xC8, 0xC9) else 0)
        elif byte in _CONTAINER:
            width, per_item = _CONTAINER[byte]
            count = int.from_bytes(data[pos : pos + width], "big") * per_item
            pos += width
            if count > size:
                return False  # claims more values than bytes: truncated, the decoder says so
        else:
            return False  # 0xc1: never used; the decoder rejects it
        if count:
            left.append(count)
            if len(left) - 1 > limit:
                return True
    return False
