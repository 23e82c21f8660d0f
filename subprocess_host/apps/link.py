"""The server's end of the four multiplexed sockets to one app process (asyncio, pyzmq).

:class:`AppLink` connects three DEALERs (``mgmt``, ``stream``, ``events``; their routing id is
the server instance's id, so the app routes a session's output to the instance attached to
it) and a PUSH (``cmd``) to the endpoints an app process announced, as a CURVE client (the server's key
pair, the app's public key).  It correlates management replies with requests by
``request_id``, hands ``stream`` frames to the callback registered for their session id, and
counts (and logs) frames for session ids it does not know.  A heartbeat task sends ``ping``
every :data:`HEARTBEAT` seconds (the app stops sessions of instances that fell silent, after
their grace period).  Everything runs on the event
loop's thread; no locking.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import Any

import zmq
import zmq.asyncio

from subprocess_host.apps import wire
from subprocess_host.apps.provisioner import AppEndpoints

log = logging.getLogger("amphikernel.apps")

HEARTBEAT = 1.0
"""Seconds between two heartbeats (``ping``) of an instance to an app process."""

StreamCallback = Callable[[bytes], None]
EventCallback = Callable[[Any], None]


class LinkClosed(RuntimeError):
    """The link is closed (the app process is gone or being stopped)."""


class AppLink:
    """The four sockets to one app process.

    Args:
        ctx: the server's asyncio ZeroMQ context.
        endpoints: what the app process announced.
        public_key, secret_key: the server's CURVE key pair (Z85 bytes).
        on_event: called with every decoded ``events`` message (``kernel-ended``, ``dropped``).
        name: for log lines.
        instance: this server instance's id (1-64 URL-safe characters; its routing id).
    """

    def __init__(self, ctx: zmq.asyncio.Context, endpoints: AppEndpoints, public_key: bytes, secret_key: bytes,
                 on_event: EventCallback, name: str = "app", instance: str = "") -> None:
        self.name = name
        self.sessions: dict[str, StreamCallback] = {}
        self.dropped = 0
        self.closed = False
        self._on_event = on_event
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self.instance = instance
        kinds = {"mgmt": zmq.DEALER, "events": zmq.DEALER, "cmd": zmq.PUSH, "stream": zmq.DEALER}
        self.sockets: dict[str, zmq.asyncio.Socket] = {}
        for name_, kind in kinds.items():
            sock = ctx.socket(kind)
            sock.linger = 0
            sock.curve_serverkey = endpoints.public_key.encode("ascii")
            sock.curve_publickey = public_key
            sock.curve_secretkey = secret_key
            if kind == zmq.DEALER and instance:
                sock.routing_id = instance.encode("ascii")
            sock.connect(endpoints.endpoints[name_])
            self.sockets[name_] = sock
        self._routed = {"stream": asyncio.Event(), "events": asyncio.Event()}
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._read_stream()), loop.create_task(self._read_mgmt()),
                       loop.create_task(self._read_events()), loop.create_task(self._heartbeat())]

    # ------------------------------------------------------------- readers
    async def _read_stream(self) -> None:
        sock = self.sockets["stream"]
        with contextlib.suppress(asyncio.CancelledError, zmq.ZMQError):
            while True:
                frames = await sock.recv_multipart()
                if len(frames) == 1 and not frames[0]:  # a route probe: the app reaches us
                    self._routed["stream"].set()
                    continue
                parsed = wire.decode_mux(frames, with_channel=False)
                callback = self.sessions.get(parsed[0]) if parsed is not None else None
                if parsed is None or callback is None:
                    self.dropped += 1
                    log.warning("app %s: dropped a stream frame for %s (%d dropped so far)", self.name,
                                f"unknown session {parsed[0]!r}" if parsed else "a malformed message", self.dropped)
                else:
                    try:
                        callback(parsed[2])
                    except Exception:
                        log.exception("app %s: stream callback failed", self.name)
                await asyncio.sleep(0)  # fairness: a flooding app does not starve the server

    async def _read_mgmt(self) -> None:
        sock = self.sockets["mgmt"]
        with contextlib.suppress(asyncio.CancelledError, zmq.ZMQError):
            while True:
                frames = await sock.recv_multipart()
                message = wire.decode_mgmt_message(frames[-1]) if frames else None
                future = self._pending.pop(getattr(message, "request_id", -1), None)
                if future is None:
                    log.warning("app %s: unexpected management reply %r", self.name, message)
                elif not future.done():
                    future.set_result(message)

    async def _read_events(self) -> None:
        sock = self.sockets["events"]
        with contextlib.suppress(asyncio.CancelledError, zmq.ZMQError):
            while True:
                frame = await sock.recv()
                event = wire.decode_mgmt_message(frame)
                if event is None:
                    log.warning("app %s: undecodable event dropped", self.name)
                    continue
                if isinstance(event, wire.Status):  # a route probe: the app reaches us
                    self._routed["events"].set()
                    continue
                try:
                    self._on_event(event)
                except Exception:
                    log.exception("app %s: event callback failed", self.name)

    async def wait_routed(self, timeout: float = 10.0) -> None:
        """Wait until the app process can route ``stream`` frames and events to this
        instance (it answers each ``ping`` with a probe on both sockets; frames routed to an
        instance not yet connected would be dropped).

        Raises:
            TimeoutError: not routed in ``timeout`` seconds.
            LinkClosed: the link is closed.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while not all(e.is_set() for e in self._routed.values()):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"app {self.name}: its output does not reach this server")
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await self.request(wire.Ping(), timeout=0.5)
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self._routed.values())), 0.05)

    async def _heartbeat(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while not self.closed:
                with contextlib.suppress(Exception):
                    await self.request(wire.Ping(), timeout=HEARTBEAT * 3)
                await asyncio.sleep(HEARTBEAT)

    # -------------------------------------------------------------- requests
    async def request(self, message: Any, timeout: float = 10.0) -> Any:
        """Send a management request and wait for its reply.

        Raises:
            LinkClosed: the link is closed.
            TimeoutError: no reply in ``timeout`` seconds.
            RuntimeError: the app answered with an error.
        """
        if self.closed:
            raise LinkClosed(f"app {self.name} is not running")
        rid = next(self._ids)
        message.request_id = rid
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            await self.sockets["mgmt"].send(wire.encode_mgmt(message))
            reply = await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(rid, None)
        if isinstance(reply, wire.MgmtError):
            raise RuntimeError(f"app {self.name}: {reply.message}")
        return reply

    async def send_command(self, session: str, channel: str, frame: bytes) -> None:
        """Send one command frame to ``session``'s kernel.

        Raises:
            LinkClosed: the link is closed.
        """
        if self.closed:
            raise LinkClosed(f"app {self.name} is not running")
        await self.sockets["cmd"].send_multipart([session.encode("ascii"), channel.encode("ascii"), frame])

    def fail_pending(self, reason: str) -> None:
        """Fail every waiting request (the app process died)."""
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LinkClosed(reason))
        self._pending.clear()

    async def close(self) -> None:
        """Stop the readers and close every socket with linger 0 (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self.fail_pending(f"app {self.name}: link closed")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for sock in self.sockets.values():
            sock.close(0)
