"""The four sockets of an app process: CURVE, multiplexed frames, bad input, provisioner."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import zmq
import zmq.asyncio
from hypothesis import given
from hypothesis import strategies as st

from lifecycle import protocol
from subprocess_host.apps import wire
from subprocess_host.apps.kernel import AppKernel
from subprocess_host.apps.pool import AppPool
from subprocess_host.apps.provisioner import AppSpec, LocalProvisioner

from ..server.harness import pid_alive
from .harness import write_nb

pytestmark = pytest.mark.timeout(120)


def test_the_app_announces_the_lifecycle_protocol_version() -> None:
    assert wire.PROTOCOL_VERSION == protocol.PROTOCOL_VERSION


@given(st.lists(st.binary(max_size=80), max_size=5), st.booleans())
def test_decode_mux_never_raises(frames: list[bytes], with_channel: bool) -> None:
    result = wire.decode_mux(frames, with_channel)
    assert result is None or (isinstance(result[0], str) and isinstance(result[2], bytes))


@given(st.binary(max_size=200))
def test_decode_mgmt_never_raises(frame: bytes) -> None:
    assert wire.decode_mgmt_request(frame) is not None
    wire.decode_mgmt_message(frame)


def test_decode_mux_shapes() -> None:
    assert wire.decode_mux([b"abc", b"ui", b"payload"], True) == ("abc", b"ui", b"payload")
    assert wire.decode_mux([b"abc", b"nope", b"payload"], True) is None
    assert wire.decode_mux([b"a/b", b"payload"], False) is None
    assert wire.decode_mux([b"abc", b"payload"], False) == ("abc", b"", b"payload")


async def test_unknown_sessions_and_bad_frames_are_dropped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notebook = write_nb(tmp_path / "nb.py", "x = 1")
    pool = AppPool()
    try:
        kernel = AppKernel(pool, "nb", notebook)
        notes: list = []
        kernel.on_notification(lambda n, f: notes.append(n))
        await kernel.start()
        await kernel.wait_ready(30)
        instance = pool.instances["nb"]
        link = instance.link
        cmd = link.sockets["cmd"]
        await cmd.send_multipart([b"no-such-session", b"control", protocol.encode(protocol.Interrupt())])
        await cmd.send_multipart([b"bad id!", b"control", b"x"])
        await cmd.send_multipart([kernel.session_id.encode(), b"bogus-channel", b"x"])
        await cmd.send_multipart([b"only-one-frame"])
        await link.sockets["mgmt"].send(b"\xc1 not msgpack")  # no request id: answered, then ignored
        with pytest.raises(RuntimeError, match="no such session"):
            await link.request(wire.StopKernel(session="nobody"))
        status = await link.request(wire.Ping())
        assert status.dropped == 4 and status.sessions == [kernel.session_id]
        # the stream side: a frame for a session the server does not know is counted too
        link.sessions.pop(kernel.session_id)
        await kernel.send(protocol.ExecuteCells(cell_ids=["a"], codes=["1"], order=["a"]))
        for _ in range(200):
            if link.dropped:
                break
            await asyncio.sleep(0.02)
        assert link.dropped >= 1
        link.sessions[kernel.session_id] = kernel._on_frame
        # the app process still serves its session
        mark = len(notes)
        await kernel.send(protocol.ExecuteCells(cell_ids=["b"], codes=["print(40 + 2)"], order=["b"]))
        for _ in range(200):
            if any(isinstance(n, protocol.CellConsole) and n.text == "42\n" for n in notes[mark:]):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError(notes[mark:])
        assert await kernel.shutdown() == 0
    finally:
        await pool.close()
    assert any("dropped a stream frame for unknown session" in r.getMessage() for r in caplog.records)


async def test_curve_refuses_a_client_with_another_key(tmp_path: Path) -> None:
    notebook = write_nb(tmp_path / "nb.py", "x = 1")
    server_public, _ = zmq.curve_keypair()
    provisioner = LocalProvisioner()
    endpoints = await asyncio.to_thread(provisioner.launch, AppSpec("nb", notebook, server_public.decode()))
    ctx = zmq.asyncio.Context()
    try:
        intruder_public, intruder_secret = zmq.curve_keypair()  # not the server's key
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.curve_serverkey = endpoints.public_key.encode()
        sock.curve_publickey, sock.curve_secretkey = intruder_public, intruder_secret
        sock.connect(endpoints.endpoints["mgmt"])
        await sock.send(wire.encode_mgmt(wire.Ping(request_id=1)))
        assert await sock.poll(1000) == 0  # the handshake was refused: no answer ever
        plain = ctx.socket(zmq.DEALER)  # no CURVE at all
        plain.linger = 0
        plain.connect(endpoints.endpoints["mgmt"])
        await plain.send(wire.encode_mgmt(wire.Ping(request_id=2)))
        assert await plain.poll(500) == 0
        sock.close(0)
        plain.close(0)
        # info()/from_info(): another server instance can find and stop the process
        again = LocalProvisioner.from_info(provisioner.info())
        assert again.endpoints == endpoints and again.poll() is None
        again.kill()
        assert await asyncio.to_thread(provisioner.wait, 10) == -9
        assert again.poll() is not None and not pid_alive(endpoints.pid)
    finally:
        ctx.destroy(0)
        if provisioner.poll() is None:
            provisioner.kill()
            provisioner.wait(10)


async def test_the_app_exits_when_the_server_closes_its_stdin(tmp_path: Path) -> None:
    notebook = write_nb(tmp_path / "nb.py", "x = 1")
    provisioner = LocalProvisioner()
    await asyncio.to_thread(provisioner.launch, AppSpec("nb", notebook, zmq.curve_keypair()[0].decode()))
    assert provisioner.proc is not None and provisioner.proc.stdin is not None
    provisioner.proc.stdin.close()  # what the server's death does
    assert await asyncio.to_thread(provisioner.wait, 20) == 0



async def test_template_forks_and_popen_for_another_interpreter(tmp_path: Path) -> None:
    import sys

    from subprocess_host.apps.zygote import ZygoteProvisioner

    notebook = write_nb(tmp_path / "nb.py", "import sys\nprint(sys.executable)")
    pool = AppPool()
    try:
        await asyncio.to_thread(pool.zygote.wait_ready)
        template = pool.zygote.proc.pid
        assert len(list(Path(f"/proc/{template}/task").iterdir())) == 1  # no threads when it forks
        forked = AppKernel(pool, "forked", notebook)
        popened = AppKernel(pool, "popened", notebook, python=sys.executable)  # a per-app interpreter
        for kernel in (forked, popened):
            await kernel.start()
            await kernel.wait_ready(30)
        assert isinstance(pool.instances["forked"].provisioner, ZygoteProvisioner)
        assert isinstance(pool.instances["popened"].provisioner, LocalProvisioner)
        assert Path(f"/proc/{pool.instances['forked'].pid}/status").read_text().count(f"PPid:\t{template}\n") == 1
    finally:
        await pool.close()
    assert pool.zygote.proc.poll() is not None  # the template is stopped with the pool
