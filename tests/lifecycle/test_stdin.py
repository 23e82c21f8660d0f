"""input() and getpass() in cells, on both queue readers."""

from __future__ import annotations

import builtins
import getpass
import threading
import time

import pytest

from lifecycle import protocol
from tests.lifecycle.harness import OTHER_READER, KernelHarness, errors, needs_threads, outputs

pytestmark = pytest.mark.timeout(60)


@needs_threads  # the answer comes from another thread
async def test_input_round_trip_and_dependents(harness: KernelHarness) -> None:
    mark = harness.mark()
    answerer = harness.answer_in_thread("Ada", since=mark)
    notes = await harness.execute({"ask": "name = input('who? ')", "greet": "f'hi {name}'"})
    answerer.join(5)
    (request,) = [n for n in notes if isinstance(n, protocol.InputRequest)]
    assert (request.cell_id, request.prompt, request.password) == ("ask", "who? ", False)
    assert outputs(notes, "greet") == ["'hi Ada'"]


@needs_threads  # the answer comes from another thread
async def test_getpass_is_a_password_request(harness: KernelHarness) -> None:
    mark = harness.mark()
    answerer = harness.answer_in_thread("s3cret", since=mark)
    notes = await harness.execute({"pw": "import getpass\nsecret = getpass.getpass()\nlen(secret)"})
    answerer.join(5)
    (request,) = [n for n in notes if isinstance(n, protocol.InputRequest)]
    assert request.password and request.prompt == "Password: "
    assert outputs(notes, "pw") == ["6"]


async def test_reply_nobody_asked_for(harness: KernelHarness) -> None:
    mark = harness.mark()
    harness.send(protocol.InputReply(request_id="input-999", text="stray"))
    err = await harness.wait_for(lambda n: isinstance(n, protocol.KernelError), mark)
    assert err.command_type == "input-reply" and "no input() is waiting" in err.message
    notes = await harness.execute({"ok": "'serving'"})
    assert outputs(notes, "ok") == ["'serving'"]


@needs_threads  # the interrupt comes from another thread
async def test_interrupt_while_waiting_for_input(harness: KernelHarness) -> None:
    mark = harness.mark()

    def interrupter() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(isinstance(n, protocol.InputRequest) for n in harness.since(mark)):
                assert harness.runtime is not None and harness.runtime.router is not None
                harness.runtime.router.submit(protocol.Interrupt())
                return
            time.sleep(0.002)

    thread = threading.Thread(target=interrupter, daemon=True)
    thread.start()
    notes = await harness.execute({"ask": "answer = input('? ')"})
    thread.join(5)
    (err,) = errors(notes)
    assert err.ename == "KeyboardInterrupt" and err.cell_id == "ask"
    notes = await harness.execute({"next": "1 + 1"})
    assert outputs(notes, "next") == ["2"]


async def test_originals_restored_after_teardown() -> None:
    original_input, original_getpass = builtins.input, getpass.getpass
    h = await KernelHarness(OTHER_READER).start()
    assert builtins.input is not original_input
    await h.stop()
    assert builtins.input is original_input and getpass.getpass is original_getpass
