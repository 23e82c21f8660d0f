"""Fuzz the subprocess kernel's four input channels (control, ui, input, completion).

A real ``launch_kernel`` subprocess behind a real :class:`~subprocess_host.client.KernelClient`
over real ZeroMQ.  Frames go straight onto each channel's socket (as any client that can reach
the kernel's ports could send them), not through ``KernelClient.send``.  Frames that decode to
a command that would change what the kernel is (``execute-cells``, ``delete-cells``,
``set-config``, ``install-packages``, ``stop``) are not sent: they are valid commands doing
what they say, which is not what is tested here.

After each channel's flood a real cell must run (``6 * 7`` -> ``42``); the kernel must have
counted exactly the bad frames sent (the ``kernel-error`` detail carries the running total) and
sent at most a rate-limited number of error notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from lifecycle import protocol
from subprocess_host.channels import IN_CHANNELS
from subprocess_host.client import KernelClient
from tests.fuzz import corpus
from tests.fuzz.report import SEED, FuzzReport, MemoryWatch, Stopwatch

SKIPPED_COMMANDS = (
    protocol.ExecuteCells,
    protocol.DeleteCells,
    protocol.SetConfig,
    protocol.InstallPackages,
    protocol.Stop,
)
MAX_COMPLETIONS = 20
"""Valid ``complete`` requests sent per channel (each starts real jedi work)."""
LIVENESS_TIMEOUT = 90.0


def base_commands(count: int, seed: int) -> list[bytes]:
    """Valid-shaped command frames drawn with hypothesis (plus a few real-looking ones)."""
    frames = corpus.drawn_frames(protocol.Command.__args__, count, seed)
    frames += [
        protocol.encode(protocol.UpdateUIElement(values={"nope": 1})),
        protocol.encode(protocol.InputReply(request_id="r", text="x")),
        protocol.encode(protocol.WidgetModel(model_id="m", state={"a": 1})),
        protocol.encode(protocol.Interrupt()),
    ]
    return frames


class Classifier:
    """Decides what happens to a frame, host-side, exactly as the kernel will decode it."""

    def __init__(self) -> None:
        self.completions = 0

    def classify(self, frame: bytes) -> str:
        """``"bad"`` (undecodable), ``"skip"`` (not sent) or ``"send"``."""
        try:
            command = protocol.decode_command(frame)
        except protocol.CommandDecodeError:
            return "bad"
        if isinstance(command, SKIPPED_COMMANDS):
            return "skip"
        if isinstance(command, protocol.Complete):
            self.completions += 1
            return "send" if self.completions <= MAX_COMPLETIONS else "skip"
        return "send"


async def run_cell(client: KernelClient, notes: list[Any], cell_id: str, timeout: float) -> bool:
    """Run ``6 * 7`` in a fresh cell; whether ``42`` came back in time."""
    mark = len(notes)
    await client.send(protocol.ExecuteCells(cell_ids=[cell_id], codes=["6 * 7"]))
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for note in notes[mark:]:
            if (isinstance(note, protocol.CellOutput) and note.cell_id == cell_id
                    and note.data.get("text/plain") == "42"):  # fmt: skip
                return True
        if client.poll() is not None:
            return False
        await asyncio.sleep(0.05)
    return False


def is_bad_frame_report(note: Any) -> bool:
    """Whether ``note`` is a ``kernel-error`` about an undecodable frame (they carry the
    frame's number among the bad frames the kernel counted)."""
    return isinstance(note, protocol.KernelError) and "(bad frame " in note.detail


DRAIN_MARK = "fuzz-drain-mark"


def _drain_frame(channel: str) -> bytes | None:
    """A valid frame for ``channel`` whose answer names :data:`DRAIN_MARK`; ``None`` for
    ``control`` (the liveness cell, sent on it after the flood, already drained it)."""
    if channel == "ui":
        return protocol.encode(protocol.UpdateUIElement(values={DRAIN_MARK: 1}))  # unknown element
    if channel == "input":
        return protocol.encode(protocol.InputReply(request_id=DRAIN_MARK, text="x"))  # nobody waits
    if channel == "completion":
        return protocol.encode(protocol.Complete(request_id=DRAIN_MARK, code="x", cursor=1))
    return None


async def drain_channel(client: KernelClient, notes: list[Any], channel: str, timeout: float = 120.0) -> bool:
    """Send :func:`_drain_frame` on ``channel`` and wait for its answer: the kernel then has
    taken every frame sent on that channel before it (each channel is read in order)."""
    frame = _drain_frame(channel)
    if frame is None:
        return True
    assert client.transport is not None
    mark = len(notes)
    await client.transport.send(channel, frame)
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for note in notes[mark:]:
            if isinstance(note, protocol.CompletionResult) and note.request_id == DRAIN_MARK:
                return True
            if isinstance(note, protocol.KernelError) and DRAIN_MARK in f"{note.message} {note.detail}":
                return True
        await asyncio.sleep(0.05)
    return False


async def _wait_total(notes: list[Any], mark: int, timeout: float = 30.0) -> int:
    """The kernel's number of the first counted bad frame reported after ``mark`` (-1: none)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for note in notes[mark:]:
            if isinstance(note, protocol.KernelError) and "(bad frame " in note.detail:
                return int(note.detail.rsplit("(bad frame ", 1)[1].split(")")[0].split(";")[0])
        await asyncio.sleep(0.05)
    return -1


async def fuzz_kernel(cases: int, seed: int = SEED, base_count: int = 600) -> list[FuzzReport]:
    """Send ``cases`` fuzz frames on each of the kernel's four input channels.

    Returns one :class:`FuzzReport` per channel (``kernel:<channel>``); ``notes`` of each say
    how many decode-error notifications came back and the kernel's own bad-frame total."""
    base = base_commands(base_count, seed)
    client = KernelClient()
    notes: list[Any] = []
    client.on_notification(lambda note, frame: notes.append(note))
    reports: list[FuzzReport] = []
    await client.start()
    try:
        await client.wait_ready(60)
        assert client.pid is not None and client.transport is not None
        assert await run_cell(client, notes, "warm-up", LIVENESS_TIMEOUT), "the kernel did not run a cell"
        bad_total = 0
        for index, channel in enumerate(IN_CHANNELS):
            report = FuzzReport(f"kernel:{channel}")
            classifier = Classifier()
            errors_before = sum(isinstance(n, protocol.KernelError) for n in notes)
            reports_before = sum(is_bad_frame_report(n) for n in notes)
            with MemoryWatch(client.pid) as memory, Stopwatch() as clock:
                for kind, frame in corpus.frames(cases * 2, base, seed=seed + index):
                    if report.cases >= cases:
                        break
                    verdict = classifier.classify(frame)
                    if verdict == "skip":
                        continue
                    report.kinds[kind] += 1
                    report.cases += 1
                    if verdict == "bad":
                        report.bad += 1
                    await client.transport.send(channel, frame)
                    if report.cases % 256 == 0:
                        await asyncio.sleep(0)  # let the receiver drain notifications
                        if client.poll() is not None:
                            break
                if client.poll() is not None:
                    report.crashes += 1
                elif not await run_cell(client, notes, f"live-{channel}", LIVENESS_TIMEOUT):
                    report.hangs += 1
            bad_total += report.bad
            # Every bad frame counted: after the reports' bucket refills, one more bad frame is
            # reported with the kernel's running total.
            if client.poll() is None:
                # The kernel counts (and admits for reporting) a frame when its channel's
                # reader takes it, which under load can be long after it was sent: first make
                # sure this channel's flood has been taken, then let the bucket refill.
                report.notes["drained"] = await drain_channel(client, notes, channel)
                await asyncio.sleep(1.0)
                mark = len(notes)
                await client.transport.send(channel, b"\xc1")
                bad_total += 1
                report.notes["kernel_total"] = await _wait_total(notes, mark)
            report.notes["expected_total"] = bad_total
            report.notes["error_notifications"] = (
                sum(isinstance(n, protocol.KernelError) for n in notes) - errors_before
            )
            report.notes["bad_frame_reports"] = sum(is_bad_frame_report(n) for n in notes) - reports_before
            report.seconds = clock.seconds
            memory.fill(report)
            reports.append(report)
        return reports
    finally:
        with contextlib.suppress(Exception):
            await client.shutdown(5)
