"""Fuzz cases: hypothesis strategies over our msgspec message types, and byte-level mutation.

:func:`message_strategy` builds a hypothesis strategy of msgpack-ready dicts for any tagged
``msgspec.Struct`` (a kernel command, a notification, a host-level message), from the
struct's own fields and type hints: required fields always present, fields with defaults
sometimes, values of the declared types (``Literal``, unions, nested structs, lists, dicts,
``Any`` as a recursive msgpack-like value), and sometimes a field of the wrong type.

:func:`frames` turns a base corpus drawn from those strategies (fixed seed) into ``count``
frames, each either a valid frame or one mutated by :data:`MUTATIONS`: truncation, bit flips,
invalid UTF-8 in strings, wrong types, huge declared lengths (str32/array32/map32 headers
claiming 4 GiB), deep nesting, oversized frames, splices and random bytes.  The same seed
always gives the same frames.
"""

from __future__ import annotations

import random
import typing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgspec
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# ------------------------------------------------------------------ strategies

_ATOMS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
ANY_VALUE = st.recursive(
    _ATOMS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
"""A msgpack-encodable value of any shape (for fields typed ``Any``)."""

_NAMES = st.text(max_size=12) | st.sampled_from(["a", "b", "x", "cell-1", "", "../../etc/passwd"])


def type_strategy(tp: Any) -> st.SearchStrategy[Any]:
    """A strategy of msgpack-encodable values of type ``tp`` (str, int, float, bool, bytes,
    None, Any, list/dict, Literal, Union/Optional, nested ``msgspec.Struct``)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return ANY_VALUE
    if tp is str:
        return _NAMES
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(min_value=-(2**63), max_value=2**63 - 1)
    if tp is float:
        return st.floats(allow_nan=True, allow_infinity=True)
    if tp is bytes:
        return st.binary(max_size=64)
    if tp is type(None):
        return st.none()
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return st.one_of(*(type_strategy(a) for a in args))
    if origin is list:
        return st.lists(type_strategy(args[0]), max_size=4)
    if origin is dict:
        return st.dictionaries(type_strategy(args[0]), type_strategy(args[1]), max_size=4)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return message_strategy(tp)
    return ANY_VALUE


def message_strategy(cls: type[msgspec.Struct], *, wrong_types: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts shaped like ``cls`` (with its ``type`` tag when it has one), ready for msgpack.

    With ``wrong_types``, about one draw in eight has one field replaced by a value of
    another type."""
    hints = typing.get_type_hints(cls)
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in msgspec.structs.fields(cls):
        (required if field.required else optional)[field.encode_name] = type_strategy(hints[field.name])
    tag = cls.__struct_config__.tag
    base = st.fixed_dictionaries(required, optional=optional)
    if isinstance(tag, str):
        base = base.map(lambda d: {"type": tag, **d})
    if not wrong_types or not (required or optional):
        return base
    names = sorted({*required, *optional})

    def spoil(d: dict[str, Any], pick: int, value: Any) -> dict[str, Any]:
        return {**d, names[pick % len(names)]: value}

    spoiled = st.builds(spoil, base, st.integers(0, len(names) - 1), ANY_VALUE)
    return st.one_of(base, base, base, base, base, base, base, spoiled)


def union_strategy(classes: Sequence[type[msgspec.Struct]]) -> st.SearchStrategy[dict[str, Any]]:
    """Any of several message types."""
    return st.one_of(*(message_strategy(c) for c in classes))


def draw(strategy: st.SearchStrategy[Any], count: int, seed: int = 0) -> list[Any]:
    """``count`` examples of ``strategy`` (fewer if it has fewer), the same ones for the same
    seed: a hypothesis run in generate-only mode with no example database."""
    found: list[Any] = []

    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
        derandomize=True,
    )
    @given(strategy, st.just(seed))
    def collect(value: Any, _seed: int) -> None:
        found.append(value)

    collect()
    return found


# ------------------------------------------------------------------ mutations

_BAD_UTF8 = (b"\xff", b"\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\xe6", b"\xf4\x90\x80\x80")


def _truncate(rng: random.Random, frame: bytes) -> bytes:
    return frame[: rng.randrange(len(frame))] if frame else frame


def _bitflip(rng: random.Random, frame: bytes) -> bytes:
    data = bytearray(frame or b"\x00")
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return bytes(data)


def _invalid_utf8(rng: random.Random, frame: bytes) -> bytes:
    """Corrupt the payload of a msgpack string (fixstr, str8) with bytes that are not UTF-8."""
    spots = [i for i, b in enumerate(frame) if 0xA1 <= b <= 0xBF and i + 1 < len(frame)]
    if not spots:
        return frame + b"\xa2\xff\xfe"
    i = rng.choice(spots) + 1
    bad = rng.choice(_BAD_UTF8)
    length = frame[i - 1] - 0xA0
    bad = bad[:length]
    return frame[:i] + bad + frame[i + len(bad) :]


def _wrong_type(rng: random.Random, frame: bytes) -> bytes:
    """Replace one value of the top-level map with a value of another type."""
    try:
        value = msgspec.msgpack.decode(frame)
    except Exception:
        return _bitflip(rng, frame)
    if not isinstance(value, dict) or not value:
        return msgspec.msgpack.encode([value])
    key = rng.choice(list(value))
    value[key] = rng.choice([None, 1, -1.5, True, "x", b"\x00", [1, "a"], {"k": [None]}, 2**64 - 1, float("nan")])
    return msgspec.msgpack.encode(value)


def _huge_length(rng: random.Random, frame: bytes) -> bytes:
    """Make one container or string header claim far more than the frame holds."""
    spots = [i for i, b in enumerate(frame) if 0x80 <= b <= 0xBF or b in (0xDC, 0xDE, 0xD9, 0xC4)]
    header = rng.choice([b"\xdb", b"\xdd", b"\xdf", b"\xc6"]) + rng.choice(
        [b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x10\x00\x00"]
    )
    if not spots:
        return header + frame
    i = rng.choice(spots)
    return frame[:i] + header + frame[i + 1 :]


def _deep(rng: random.Random, frame: bytes) -> bytes:
    """A command-looking map whose value is nested thousands of levels deep."""
    depth = rng.choice([64, 500, 5_000, 50_000, 200_000])
    opener = rng.choice([b"\x91", b"\x81\xa1k"])
    return b"\x82\xa4type\xb1update-ui-element\xa6values\x81\xa1v" + opener * depth + b"\xc0"


def _oversized(rng: random.Random, frame: bytes) -> bytes:
    """A valid-looking frame carrying megabytes."""
    size = rng.choice([1, 4, 12]) * 1024 * 1024
    kind = rng.randrange(3)
    if kind == 0:
        return msgspec.msgpack.encode({"type": "update-ui-element", "values": {"big": b"\x00" * size}})
    if kind == 1:
        return msgspec.msgpack.encode({"type": "no-such-type", "blob": "x" * size})
    return frame + rng.randbytes(size)


def _splice(rng: random.Random, frame: bytes) -> bytes:
    cut = rng.randrange(len(frame) + 1)
    return frame[:cut] + rng.randbytes(rng.randrange(1, 16)) + frame[cut:]


def _random_bytes(rng: random.Random, frame: bytes) -> bytes:
    return rng.randbytes(rng.randrange(0, 64))


Mutation = Callable[[random.Random, bytes], bytes]
MUTATIONS: dict[str, Mutation] = {
    "truncate": _truncate,
    "bitflip": _bitflip,
    "invalid-utf8": _invalid_utf8,
    "wrong-type": _wrong_type,
    "huge-length": _huge_length,
    "deep": _deep,
    "oversized": _oversized,
    "splice": _splice,
    "random": _random_bytes,
}
WEIGHTS = {"truncate": 20, "bitflip": 25, "invalid-utf8": 20, "wrong-type": 15, "huge-length": 10,
           "deep": 2, "oversized": 0.05, "splice": 5, "random": 5}  # fmt: skip
"""Relative frequency of each mutation (oversized frames are rare: they cost real time)."""


def frames(
    count: int,
    base: Sequence[bytes],
    *,
    seed: int = 0,
    valid_share: float = 0.15,
    oversized: bool = True,
) -> Iterator[tuple[str, bytes]]:
    """``count`` fuzz frames as ``(kind, frame)``: ``kind`` is ``"valid"`` or a mutation name.

    Args:
        count: how many frames.
        base: valid encoded frames to start from (see :func:`encode_all`).
        seed: the random seed (same seed, same frames).
        valid_share: the share of frames passed unmutated.
        oversized: include the rare multi-megabyte frames.
    """
    rng = random.Random(seed)
    names = [n for n in WEIGHTS if oversized or n != "oversized"]
    weights = [WEIGHTS[n] for n in names]
    for i in range(count):
        frame = base[i % len(base)] if base else b""
        if rng.random() < valid_share:
            yield "valid", frame
            continue
        name = rng.choices(names, weights)[0]
        yield name, MUTATIONS[name](rng, frame)


_DRAWN: dict[tuple[tuple[type, ...], int, int], list[bytes]] = {}


def drawn_frames(classes: Sequence[type[msgspec.Struct]], count: int, seed: int) -> list[bytes]:
    """``encode_all(draw(union_strategy(classes), count, seed))``, drawn once per process.

    Drawing is the slow part of building a corpus (hypothesis spends about 10 ms per
    example); every boundary fuzzed in one run with the same classes, count and seed shares
    one draw (the same seed always gives the same frames).  Returns a new list each call."""
    key = (tuple(classes), count, seed)
    if key not in _DRAWN:
        _DRAWN[key] = encode_all(draw(union_strategy(classes), count, seed))
    return list(_DRAWN[key])


def encode_all(dicts: Sequence[dict[str, Any]]) -> list[bytes]:
    """msgpack-encode drawn dicts (skipping the rare value msgspec cannot encode)."""
    out = []
    for d in dicts:
        try:
            out.append(msgspec.msgpack.encode(d))
        except (TypeError, OverflowError, ValueError):
            continue
    return out
