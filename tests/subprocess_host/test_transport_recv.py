"""ZmqTransport's receive path (issue 18): frames read through the watched notification
descriptor arrive exactly as pyzmq's own asyncio ``recv`` delivers them (all of them, in
order, across bursts and pauses), and closing the transport ends a waiting ``recv``."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import zmq

from subprocess_host.client import ZmqTransport


def _pusher(address: str, bursts: list[list[bytes]], pause: float) -> threading.Thread:
    """A thread sending ``bursts`` to ``address`` (a real PUSH socket), pausing between them."""

    def run() -> None:
        ctx = zmq.Context()
        sock = ctx.socket(zmq.PUSH)
        sock.setsockopt(zmq.LINGER, 2000)
        sock.connect(address)
        try:
            for burst in bursts:
                for frame in burst:
                    sock.send(frame)
                time.sleep(pause)
        finally:
            sock.close()
            ctx.term()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def _receive_all(transport: ZmqTransport, count: int, *, general: bool) -> list[bytes]:
    out: list[bytes] = []
    while len(out) < count:
        if general:  # pyzmq's asyncio recv, what the transport used before
            out.append(await transport._sockets["stream"].recv(copy=True))
        else:
            out.append(await transport.recv())
            while (more := transport.recv_nowait()) is not None:
                out.append(more)
    return out


@pytest.mark.timeout(60)
@pytest.mark.parametrize("general", [False, True])
async def test_every_frame_arrives_in_order_across_bursts_and_pauses(general: bool) -> None:
    bursts = [[f"{b}-{i}".encode() * (1 + i % 7) for i in range(b % 5 + 1)] for b in range(60)]
    bursts.append([b"x" * 200_000])  # one large frame
    expected = [frame for burst in bursts for frame in burst]
    transport = ZmqTransport()
    try:
        thread = _pusher(transport.addresses.stream, bursts, pause=0.002)
        got = await asyncio.wait_for(_receive_all(transport, len(expected), general=general), 30)
        thread.join(10)
        assert got == expected
        assert transport.recv_nowait() is None
    finally:
        transport.close()


@pytest.mark.timeout(30)
async def test_closing_ends_a_waiting_recv_and_later_ones() -> None:
    transport = ZmqTransport()
    waiting = asyncio.ensure_future(transport.recv())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    transport.close()
    with pytest.raises(zmq.ZMQError):
        await asyncio.wait_for(waiting, 5)
    with pytest.raises(zmq.ZMQError):
        await transport.recv()
