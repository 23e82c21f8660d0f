"""The scenarios of the IPC compatibility matrix, each an ``async`` function of a
:class:`~tests.compat.links.Link` that raises ``AssertionError``/``TimeoutError`` on failure and
returns a short note for the summary table.  All of them wait for events (notifications),
never for fixed times.

They run in the host's venv against the installed wheel (imports: amphikernel, msgspec,
stdlib), and in the dev venv for the Pyodide row.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from lifecycle import protocol

MiB = 2**20
BIG = 10 * MiB
"""Size of the big source, output and kernel-killing message (bytes/characters)."""
BLOB = bytes(range(256)) * (MiB // 256)
"""1 MiB kernel -> host widget buffer (every byte value; made by the same expression in the
kernel)."""
NOT_UTF8 = b"\xff\xfe\xfd\x80\xc3\x28\xed\xa0\x80\xf4\x90\x80\x80\x00"
"""Bytes that are not UTF-8 (lone continuation, overlong, encoded surrogate, > U+10FFFF)."""


def _stream(n: int) -> bytes:
    out = bytearray()
    seed = b"amphi-compat"
    while len(out) < n:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:n])


BLOB_BACK = _stream(MiB) + NOT_UTF8
"""The host -> kernel widget buffer (pseudo-random, ends with non-UTF-8 bytes)."""

EMOJI_CELL = "🐍-ünï-細胞"


class State:
    """What scenarios share (the widget model id once opened)."""

    def __init__(self) -> None:
        self.model_id: str | None = None


def outputs(notes: list[Any], cell_id: str) -> list[str]:
    return [n.data.get("text/plain", "") for n in notes if isinstance(n, protocol.CellOutput) and n.cell_id == cell_id]


def errors(notes: list[Any]) -> list[Any]:
    return [n for n in notes if isinstance(n, (protocol.CellError, protocol.KernelError))]


async def run_cells(link: Any, cells: dict[str, str], timeout: float = 90, allow_errors: bool = False) -> list[Any]:
    """Execute ``cells`` (id -> code); wait for the ``completed-run`` naming all of them."""
    mark = link.mark()
    await link.send(protocol.ExecuteCells(cell_ids=list(cells), codes=list(cells.values())))
    await link.wait_for(lambda n: isinstance(n, protocol.CompletedRun) and set(cells) <= set(n.cell_ids), mark, timeout)
    notes = link.since(mark)
    if not allow_errors:
        bad = errors(notes)
        assert not bad, f"unexpected errors: {[(type(b).__name__, getattr(b, 'evalue', getattr(b, 'message', ''))[:300]) for b in bad]}"
    return notes


# ---------------------------------------------------------------------------------- 1-4


async def s1_execute(link: Any, state: State) -> str:
    notes = await run_cells(link, {"s1": "x = 6 * 7\nx"})
    assert outputs(notes, "s1") == ["42"], outputs(notes, "s1")
    return f"kernel {link.kernel_version}"


async def s2_unknown_field(link: Any, state: State) -> str:
    frame = msgspec.msgpack.encode({"type": "execute-cells", "cell_ids": ["s2"], "codes": ["y = x + 1\ny"],
                                    "added_in_protocol_9": {"knob": [1, 2.5, None]}})
    mark = link.mark()
    await link.send_frame(frame)
    await link.wait_for(lambda n: isinstance(n, protocol.CompletedRun) and "s2" in n.cell_ids, mark)
    notes = link.since(mark)
    assert not errors(notes), errors(notes)
    assert outputs(notes, "s2") == ["43"], outputs(notes, "s2")
    return "ignored"


KNOWN_EXTRA = msgspec.msgpack.encode({"type": "cell-output", "cell_id": "s3", "data": {"text/plain": "'extra-field-ok'"},
                                      "kind": "display", "added_in_protocol_9": [1, 2, 3]})
BRAND_NEW = msgspec.msgpack.encode({"type": "compat-hologram", "payload": b"\x00\xff\xfe", "n": 1, "nested": {"a": [1]}})


async def s3_new_notifications(link: Any, state: State) -> str:
    code = (
        "from lifecycle import context as _ctx, protocol as _p\n"
        "_emit = _ctx.current().emit\n"
        f"_emit(_p.UnknownNotification(type='cell-output', raw={KNOWN_EXTRA!r}))\n"
        f"_emit(_p.UnknownNotification(type='compat-hologram', raw={BRAND_NEW!r}))\n"
    )
    before = link.decode_errors_seen
    mark = link.mark()
    await run_cells(link, {"s3": code})
    entries = link.notes[mark:]
    known = [(n, f) for n, f, _t in entries if isinstance(n, protocol.CellOutput) and n.cell_id == "s3"]
    assert len(known) == 1, f"known type with an extra field: {known}"
    assert known[0][0].data == {"text/plain": "'extra-field-ok'"} and known[0][1] == KNOWN_EXTRA
    unknown = [(n, f) for n, f, _t in entries if isinstance(n, protocol.UnknownNotification)]
    assert len(unknown) == 1, f"expected one pass-through, got {unknown}"
    note, frame = unknown[0]
    assert note.type == "compat-hologram" and note.raw == BRAND_NEW and frame == BRAND_NEW, "not byte for byte"
    assert protocol.encode(note) == BRAND_NEW  # what a host forwards to its frontend
    assert link.decode_errors_seen == before, "a decode error was counted"
    return "extra decoded; new type passed through (1 counted)"


async def s4_bad_commands(link: Any, state: State) -> str:
    mark = link.mark()
    await link.send_frame(msgspec.msgpack.encode({"type": "compat-teleport", "where": "mars"}))
    await link.send_frame(msgspec.msgpack.encode({"type": "execute-cells", "cell_ids": ["s4"]}))
    notes = await run_cells(link, {"s4b": "'still-serving'"}, allow_errors=True)
    assert outputs(notes, "s4b") == ["'still-serving'"], outputs(notes, "s4b")
    kerrs = [n for n in link.since(mark) if isinstance(n, protocol.KernelError)]
    assert len(kerrs) == 2, f"expected 2 kernel-error, got {kerrs}"
    unknown, missing = kerrs
    assert unknown.command_type == "compat-teleport" and "compat-teleport" in unknown.message, unknown
    assert "unknown command type" in unknown.message + unknown.detail, unknown
    assert missing.command_type == "execute-cells", missing
    assert "codes" in missing.message + missing.detail, missing
    return "2 kernel-error naming type/field; serving"


# ---------------------------------------------------------------------------------- 5


async def _open_model(link: Any, state: State) -> str:
    if state.model_id is not None:
        return state.model_id
    code = (
        "import comm\n"
        "_blob = bytes(range(256)) * (2**20 // 256)\n"
        "_c = comm.create_comm(target_name='jupyter.widget',\n"
        "    data={'state': {'_model_name': 'CompatModel', 'blob': None}, 'buffer_paths': [['blob']]},\n"
        "    buffers=[_blob])\n"
        "def _echo(msg):\n"
        "    _bufs = [bytes(b) for b in msg['buffers']]\n"
        "    _c.send({'method': 'custom', 'content': {'echo': msg['content']['data']['content']}}, buffers=_bufs)\n"
        "_c.on_msg(_echo)\n"
    )
    mark = link.mark()
    await run_cells(link, {"model": code})
    opened = [n for n in link.since(mark) if isinstance(n, protocol.WidgetModelUpdate) and n.method == "open"]
    assert len(opened) == 1, f"widget open: {opened!r:.300}"
    note = opened[0]
    assert note.buffer_paths == [["blob"]] and len(note.buffers) == 1, note.buffer_paths
    assert note.buffers[0] == BLOB, "kernel -> host buffer differs"
    state.model_id = note.model_id
    return note.model_id


async def _echo_buffer(link: Any, state: State, payload: bytes, tag: str) -> None:
    model_id = await _open_model(link, state)
    mark = link.mark()
    await link.send(protocol.WidgetModel(model_id=model_id, method="custom", content={"tag": tag}, buffers=[payload]))
    note = await link.wait_for(lambda n: isinstance(n, (protocol.WidgetModelUpdate, protocol.KernelError))
                               and getattr(n, "method", "custom") == "custom", mark)
    assert isinstance(note, protocol.WidgetModelUpdate), note
    assert note.content == {"echo": {"tag": tag}}, note.content
    assert note.buffers == [payload], "host -> kernel -> host buffer differs"


async def s5_big(link: Any, state: State) -> str:
    await link.send(protocol.SetConfig(output_max_bytes=4 * BIG))
    source = "big_src = '" + "a" * BIG + "'\nlen(big_src)"
    notes = await run_cells(link, {"s5a": source}, timeout=120)
    assert outputs(notes, "s5a") == [str(BIG)], outputs(notes, "s5a")
    notes = await run_cells(link, {"s5b": f"'b' * {BIG}"}, timeout=120)
    (text,) = outputs(notes, "s5b")
    assert text == "'" + "b" * BIG + "'", f"output of {len(text)} characters"
    await _open_model(link, state)
    await _echo_buffer(link, state, BLOB_BACK, "s5")
    return "10 MiB source+output; 1 MiB buffers both ways"


# ---------------------------------------------------------------------------------- 6-9


async def s6_thousand(link: Any, state: State) -> str:
    n = 1000
    mark = link.mark()
    for i in range(n):
        await link.send_frame(protocol.encode(protocol.ExecuteCells(cell_ids=["fifo"], codes=[str(i)])))
    await link.wait_for(lambda x: isinstance(x, protocol.CompletedRun) and "fifo" in x.cell_ids, mark, 150, count=n)
    notes = link.since(mark)
    assert not errors(notes), errors(notes)[:3]
    got = outputs(notes, "fifo")
    assert got == [str(i) for i in range(n)], f"order broken at {next(i for i, v in enumerate(got) if v != str(i))}"
    return f"{n} completed-run in FIFO order"


async def s7_unicode(link: Any, state: State) -> str:
    code = "u = 'héllo 🌍 wörld \\ud800 end'\nprint('console 🐍 ✓')\nu"
    notes = await run_cells(link, {EMOJI_CELL: code})
    (text,) = outputs(notes, EMOJI_CELL)
    assert "🌍" in text and "\\ud800" in text, text
    console = "".join(n.text for n in notes if isinstance(n, protocol.CellConsole) and n.cell_id == EMOJI_CELL)
    assert console == "console 🐍 ✓\n", repr(console)
    done = [n for n in notes if isinstance(n, protocol.CompletedRun)]
    assert EMOJI_CELL in done[-1].cell_ids
    await _echo_buffer(link, state, NOT_UTF8, "s7-🐍")
    return "emoji ids/outputs; \\ud800 escaped; non-UTF-8 bin"


NAN_INF = "[nan, inf, -inf]"


def _is_nan_inf(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 3 and math.isnan(value[0])
            and value[1] == math.inf and value[2] == -math.inf)


async def s8_nan(link: Any, state: State) -> str:
    code = ("from lifecycle.ui.base import UIElement\n"
            "class _AnyValue(UIElement):\n    kind = 'compat-any'\n"
            "el = _AnyValue(0.0)\nel.element_id")
    notes = await run_cells(link, {"ui8": code, "ui8r": "repr(el.value)"})
    element_id = outputs(notes, "ui8")[0].strip("'")
    mark = link.mark()
    await link.send(protocol.UpdateUIElement(values={element_id: [math.nan, math.inf, -math.inf]}))
    await link.wait_for(lambda n: isinstance(n, protocol.CompletedRun) and "ui8r" in n.cell_ids, mark)
    assert outputs(link.since(mark), "ui8r") == [f"'{NAN_INF}'"], outputs(link.since(mark), "ui8r")
    notes = await run_cells(link, {"ui8k": "globals()['el'].value = [float('nan'), float('inf'), -float('inf')]"})
    values = [n.value for n in notes if isinstance(n, protocol.UIElementValue) and n.element_id == element_id]
    assert values and _is_nan_inf(values[-1]), values
    return "host->kernel and kernel->host"


async def s9_concurrent(link: Any, state: State) -> str:
    n = 200
    mark = link.mark()

    async def control() -> None:
        for i in range(n):
            await link.send(protocol.ExecuteCells(cell_ids=["c9"], codes=[f"{i}"]))
            await asyncio.sleep(0)

    async def completion() -> None:
        for i in range(n):
            await link.send(protocol.Complete(request_id=f"r{i}", code="prin", cursor=4))
            await asyncio.sleep(0)

    await asyncio.gather(control(), completion())
    await link.wait_for(lambda x: isinstance(x, protocol.CompletedRun) and "c9" in x.cell_ids, mark, 150, count=n)
    await link.wait_for(lambda x: isinstance(x, protocol.CompletionResult), mark, 150, count=n)
    notes = link.since(mark)
    assert not errors(notes), errors(notes)[:3]
    assert outputs(notes, "c9") == [str(i) for i in range(n)], "control channel out of order"
    ids = [x.request_id for x in notes if isinstance(x, protocol.CompletionResult)]
    assert ids == [f"r{i}" for i in range(n)], "completion answers out of order"
    # Superseded requests may get an empty answer (the worker answers the newest); the last
    # one is always answered in full.
    last = [x for x in notes if isinstance(x, protocol.CompletionResult)][-1]
    assert any(c.name == "print" for c in last.completions), last
    return f"{n}+{n} interleaved, both FIFO"


# ---------------------------------------------------------------------------------- 10


async def s10_kill(link: Any, state: State) -> str:
    killed: list[float] = []

    def on_note(note: Any, frame: bytes) -> None:
        if not killed and isinstance(note, protocol.CellConsole) and note.cell_id == "k10" and note.text == "go":
            link.kill()
            killed.append(time.monotonic())

    code = ("from lifecycle import context as _ctx, protocol as _p\n"
            "_emit = _ctx.current().emit\n"
            f"_big = 'z' * {BIG}\n"
            "_emit(_p.CellOutput(cell_id='k10', data={'text/plain': _big}))\n"
            "_emit(_p.CellConsole(cell_id='k10', stream='stdout', text='go'))\n"
            "while True:\n    _emit(_p.CellOutput(cell_id='k10', data={'text/plain': _big}))\n")
    link.listeners.append(on_note)
    mark = link.mark()
    await link.send(protocol.ExecuteCells(cell_ids=["k10"], codes=[code]))
    await link.wait_for(lambda n: isinstance(n, protocol.KernelDied), mark, 60)
    died_at = next(t for n, _f, t in link.notes[mark:] if isinstance(n, protocol.KernelDied))
    assert killed, "killed before the marker?"
    delay = died_at - killed[0]
    assert delay < 10, f"death reported after {delay:.2f} s"
    start = time.monotonic()
    try:
        await asyncio.wait_for(link.send(protocol.ExecuteCells(cell_ids=["after"], codes=["1"])), 10)
    except RuntimeError:
        pass  # "the kernel is not running": the expected answer
    else:
        raise AssertionError("a send to a dead kernel did not fail")
    assert time.monotonic() - start < 10, "a call hung"
    return f"died reported in {delay * 1000:.0f} ms; calls fail fast"


Scenario = Callable[[Any, State], Awaitable[str]]
SCENARIOS: dict[str, Scenario] = {
    "1": s1_execute, "2": s2_unknown_field, "3": s3_new_notifications, "4": s4_bad_commands, "5": s5_big,
    "6": s6_thousand, "7": s7_unicode, "8": s8_nan, "9": s9_concurrent, "10": s10_kill,
}
SCENARIO_TITLES = {
    "1": "warm-up + execute", "2": "unknown command field", "3": "new/extended notifications",
    "4": "bad commands", "5": "10 MiB + buffers", "6": "1,000 commands FIFO", "7": "Unicode",
    "8": "NaN/±Inf", "9": "concurrent senders", "10": "kill -9 mid 10 MiB", "11": "msgspec skew",
}


async def run_all(link: Any, only: list[str] | None = None, timeout: float = 180) -> list[dict[str, Any]]:
    """Start ``link``, run the scenarios in order (each under ``timeout`` seconds), close it.
    Returns one dict per scenario: ``scenario``, ``ok``, ``detail``, ``seconds``."""
    results: list[dict[str, Any]] = []
    state = State()
    started = time.monotonic()
    try:
        await asyncio.wait_for(link.start(), 180)
    except Exception as exc:
        return [{"scenario": "1", "ok": False, "detail": f"start: {type(exc).__name__}: {exc}"[:400],
                 "seconds": time.monotonic() - started}]
    try:
        for key, scenario in SCENARIOS.items():
            if only and key not in only:
                continue
            t0 = time.monotonic()
            try:
                detail = await asyncio.wait_for(scenario(link, state), timeout)
                ok = True
            except Exception as exc:
                ok, detail = False, f"{type(exc).__name__}: {exc}"[:400]
            results.append({"scenario": key, "ok": ok, "detail": detail, "seconds": round(time.monotonic() - t0, 2)})
    finally:
        try:
            await link.close()
        except Exception as exc:  # a close failure fails the last scenario's row
            results.append({"scenario": "close", "ok": False, "detail": f"close: {exc!r}"[:300], "seconds": 0})
    return results
