"""Fuzz an app process's multiplexed ``cmd`` and ``mgmt`` sockets (``subprocess_host/apps``).

The fuzzer is an authenticated client: it holds the server's CURVE key pair, as a compromised
server would.  A real app process (``LocalProvisioner``) runs behind a real
:class:`~subprocess_host.apps.pool.AppPool`; one reader session (an
:class:`~subprocess_host.apps.kernel.AppKernel`, a kernel thread in that process) is the
session that must keep serving.  Socket types are never written here: the ``cmd`` frames go
through the pool's own :class:`~subprocess_host.apps.link.AppLink` socket, and the ``mgmt``
fuzzer is a second socket of the same type as the link's (so its replies come back to it).

``app:cmd`` cases are ``[session id, channel, frame]`` messages: most carry a fuzzed command
frame (:mod:`tests.fuzz.corpus`, classified like :mod:`tests.fuzz.kernel`) for the live session
on a real channel; the rest break the envelope (frame count, session ids that are too long,
not ASCII, unknown; unknown channels).  The app process must count every broken envelope
(``Status.dropped``) and the kernel thread every undecodable command frame (its ``kernel-error``
running total).

``app:mgmt`` cases are fuzzed management requests (hypothesis over
:data:`subprocess_host.apps.wire.MgmtRequest`, mutated) and multi-frame messages.  Every
single-frame request is answered (a ``MgmtError`` for every undecodable one); every
multi-frame message is counted as dropped.  Requests that would change what the process is
(``shutdown``, ``create-kernel`` with a valid fresh id, any request naming the live session)
are not sent: they are valid requests doing what they say.

After each flood a real cell runs in the live session (``6 * 7`` -> ``42``), and the process's
memory stayed bounded (:class:`~tests.fuzz.report.MemoryWatch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from lifecycle.notebook import Cell, Notebook, write_notebook
from subprocess_host.apps import wire
from subprocess_host.apps.kernel import AppKernel
from subprocess_host.apps.pool import AppPool
from subprocess_host.apps.provisioner import LocalProvisioner
from tests.fuzz import corpus
from tests.fuzz.kernel import (
    LIVENESS_TIMEOUT,
    Classifier,
    _wait_total,
    base_commands,
    is_bad_frame_report,
    run_cell,
)
from tests.fuzz.report import SEED, FuzzReport, MemoryWatch, Stopwatch

ENVELOPE_SHARE = 0.3
"""Share of ``cmd`` cases that break the envelope instead of the command frame."""
BATCH = 500
"""Cases sent between two yields to the event loop (the readers drain replies meanwhile)."""


def _bad_envelope(rng: random.Random, session: bytes, frame: bytes) -> tuple[str, list[bytes]]:
    """A ``cmd`` message the app process must drop (and count)."""
    kind = rng.randrange(7)
    if kind == 0:
        return "env-frames", [session, b"control"][: rng.randint(1, 2)]
    if kind == 1:
        return "env-frames", [session, b"ui", frame, frame]
    if kind == 2:
        return "env-session", [session * 6, b"control", frame]  # more than 64 characters
    if kind == 3:
        return "env-session", [rng.choice([b"", b"a b", b"\xff\xfe", b"../x", "é".encode()]), b"ui", frame]
    if kind == 4:
        return "env-unknown", [b"no-such-session-" + str(rng.randrange(10**6)).encode(), b"control", frame]
    if kind == 5:
        return "env-channel", [session, rng.choice([b"", b"stream", b"Control", b"control\x00", rng.randbytes(6)]), frame]
    return "env-channel", [session, b"mgmt", frame]


def _mgmt_base(count: int, seed: int) -> list[bytes]:
    drawn = corpus.draw(corpus.union_strategy(wire.MgmtRequest.__args__), count, seed)
    return [*corpus.encode_all(drawn), wire.encode_mgmt(wire.Ping(request_id=7)), wire.encode_mgmt(wire.StopKernel(session="nobody", request_id=8))]


def _mgmt_verdict(frame: bytes, live: str) -> str:
    """``"bad"`` (answered with an error), ``"skip"`` or ``"send"``."""
    request = wire.decode_mgmt_request(frame)
    if isinstance(request, wire.MgmtError):
        return "bad"
    if isinstance(request, wire.Shutdown):
        return "skip"
    if getattr(request, "session", None) == live:
        return "skip"  # stop-kernel, attach/detach-session of the live session: valid, not fuzzing
    if isinstance(request, wire.CreateKernel) and wire.decode_mux([request.session.encode(), b""], False):
        return "skip"  # a valid fresh id starts a kernel thread: valid, not fuzzing
    return "send"


class _Replies:
    """Reads the fuzzing ``mgmt`` socket: counts replies and error replies."""

    def __init__(self, sock: zmq.asyncio.Socket) -> None:
        self.sock, self.count, self.errors = sock, 0, 0
        self.last: Any = None
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError, zmq.ZMQError):
            while True:
                frames = await self.sock.recv_multipart()
                message = wire.decode_mgmt_message(frames[-1])
                self.count += 1
                self.errors += isinstance(message, wire.MgmtError)
                self.last = message

    async def wait_for(self, count: int, timeout: float = 60.0) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while self.count < count and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        return self.count >= count

    async def ping(self, timeout: float = 30.0) -> wire.Status | None:
        """A ``ping`` on the fuzzing socket, after everything sent before it."""
        before = self.count
        await self.sock.send(wire.encode_mgmt(wire.Ping(request_id=424242)))
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if self.count > before and isinstance(self.last, wire.Status) and self.last.request_id == 424242:
                return self.last
            await asyncio.sleep(0.02)
        return None


def _notebook(folder: Path) -> Path:
    path = folder / "fuzzed_app.py"
    write_notebook(path, Notebook(cells=[Cell(id="c0", kind="code", source="x = 1")]))
    return path


async def fuzz_app(cases: int, seed: int = SEED, base_count: int = 600) -> list[FuzzReport]:
    """Send ``cases`` fuzz cases on an app process's ``cmd`` socket, then on its ``mgmt``
    socket.  Returns the reports ``app:cmd`` and ``app:mgmt``; their ``notes`` hold the
    app's and the kernel's counts next to what was sent."""
    folder = Path(tempfile.mkdtemp(prefix="amphi-fuzz-app-"))
    pool = AppPool(provisioner_factory=lambda: LocalProvisioner(stderr=subprocess.DEVNULL))
    kernel = AppKernel(pool, "fuzzed", _notebook(folder))
    notes: list[Any] = []
    kernel.on_notification(lambda note, frame: notes.append(note))
    reports: list[FuzzReport] = []
    mgmt: zmq.asyncio.Socket | None = None
    try:
        await kernel.start()
        await kernel.wait_ready(90)
        instance = kernel.instance
        assert instance is not None
        pid, link, live = instance.pid, instance.link, kernel.session_id
        endpoints = instance.provisioner.endpoints
        assert endpoints is not None
        assert await run_cell(kernel, notes, "warm-up", LIVENESS_TIMEOUT), "the app's kernel did not run a cell"
        # The fuzzing management socket: the link's own type, the server's keys.
        mgmt = pool.ctx.socket(link.sockets["mgmt"].type)
        mgmt.linger = 0
        mgmt.curve_serverkey = endpoints.public_key.encode("ascii")
        mgmt.curve_publickey, mgmt.curve_secretkey = pool.public_key, pool.secret_key
        mgmt.connect(endpoints.endpoints["mgmt"])
        replies = _Replies(mgmt)
        status = await replies.ping(60)
        assert status is not None, "the fuzzing management socket got no answer"
        dropped_before = status.dropped

        # ------------------------------------------------------------ cmd
        report = FuzzReport("app:cmd")
        rng = random.Random(seed)
        classifier = Classifier()
        key = live.encode("ascii")
        channels = sorted(wire.CHANNELS)
        envelopes = 0
        reports_before = sum(is_bad_frame_report(n) for n in notes)
        base = base_commands(base_count, seed)
        with MemoryWatch(pid) as memory, Stopwatch() as clock:
            for kind, frame in corpus.frames(cases * 2, base, seed=seed + 11):
                if report.cases >= cases:
                    break
                if rng.random() < ENVELOPE_SHARE:
                    kind, message = _bad_envelope(rng, key, frame)
                    envelopes += 1
                    report.bad += 1
                else:
                    verdict = classifier.classify(frame)
                    if verdict == "skip":
                        continue
                    report.bad += verdict == "bad"
                    message = [key, rng.choice(channels), frame]
                report.kinds[kind] += 1
                report.cases += 1
                await link.sockets["cmd"].send_multipart(message)
                if report.cases % BATCH == 0:
                    await asyncio.sleep(0)
                    if instance.provisioner.poll() is not None:
                        break
            if instance.provisioner.poll() is not None:
                report.crashes += 1
            elif not await run_cell(kernel, notes, "live-cmd", LIVENESS_TIMEOUT):
                report.hangs += 1
        status = await replies.ping() if not report.crashes else None
        report.notes["app_dropped"] = status.dropped - dropped_before if status else -1
        report.notes["expected_dropped"] = envelopes
        kernel_bad = report.bad - envelopes
        if not report.crashes:
            await asyncio.sleep(1.0)  # the kernel's report bucket refills
            mark = len(notes)
            await kernel.send_frame(b"\xc1")
            report.notes["kernel_total"] = await _wait_total(notes, mark)
        report.notes["expected_total"] = kernel_bad + 1
        report.notes["bad_frame_reports"] = sum(is_bad_frame_report(n) for n in notes) - reports_before
        report.seconds = clock.seconds
        memory.fill(report)
        reports.append(report)

        # ------------------------------------------------------------ mgmt
        report = FuzzReport("app:mgmt")
        mgmt_base = _mgmt_base(base_count // 2, seed)
        replies_before, singles = replies.count, 0
        errors_before = replies.errors
        multi = 0
        dropped_before = status.dropped if status else 0
        with MemoryWatch(pid) as memory, Stopwatch() as clock:
            for kind, frame in corpus.frames(cases * 3, mgmt_base, seed=seed + 12):
                if report.cases >= cases:
                    break
                if rng.random() < 0.05:
                    multi += 1
                    report.bad += 1
                    report.kinds["multi-frame"] += 1
                    report.cases += 1
                    await mgmt.send_multipart([frame, frame][: rng.randint(2, 2)] + [b""] * rng.randrange(2))
                    continue
                verdict = _mgmt_verdict(frame, live)
                if verdict == "skip":
                    continue
                report.bad += verdict == "bad"
                report.kinds[kind] += 1
                report.cases += 1
                singles += 1
                await mgmt.send(frame)
                if report.cases % BATCH == 0:
                    # Replies are read meanwhile; never let more than a few batches wait
                    # (the app's ROUTER drops replies to a peer whose queue is full).
                    await replies.wait_for(replies_before + singles - 2 * BATCH, 120)
                    if instance.provisioner.poll() is not None:
                        break
            answered = await replies.wait_for(replies_before + singles, LIVENESS_TIMEOUT)
            if instance.provisioner.poll() is not None:
                report.crashes += 1
            elif not answered or not await run_cell(kernel, notes, "live-mgmt", LIVENESS_TIMEOUT):
                report.hangs += 1
        status = await replies.ping() if not report.crashes else None
        report.notes["answered"] = replies.count - replies_before - 1  # less the closing ping
        report.notes["expected_answers"] = singles
        report.notes["error_replies"] = replies.errors - errors_before
        report.notes["app_dropped"] = status.dropped - dropped_before if status else -1
        report.notes["expected_dropped"] = multi
        report.notes["sessions"] = status.sessions if status else None
        report.seconds = clock.seconds
        memory.fill(report)
        reports.append(report)
        replies.task.cancel()
        await asyncio.gather(replies.task, return_exceptions=True)
        return reports
    finally:
        if mgmt is not None:
            mgmt.close(0)
        with contextlib.suppress(Exception):
            await kernel.shutdown(5)
        await pool.close()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
