"""Host side of a kernel subprocess: :class:`KernelClient`, shaped like ``subprocess.Popen``.

::

    client = KernelClient(KernelArgs(...))
    await client.start()                 # spawn, send launch arguments
    info = await client.wait_ready(10)   # the KERNEL_READY line
    client.send(protocol.ExecuteCells(...))
    async for note in client.notifications():
        ...
    await client.shutdown()

The transport (how frames reach the kernel) sits behind :class:`KernelTransport`;
:class:`ZmqTransport` is the real one.  Kernel death (exit, ``kill -9``, even in the middle of
a large message) is reported as a ``kernel-died`` notification within a second, and no call
hangs on a dead kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lifecycle import protocol
from lifecycle.kernel_lifecycle import KernelArgs
from subprocess_host.channels import IN_CHANNELS, ChannelAddresses, channel_for

log = logging.getLogger("amphikernel.client")

# ZeroMQ option and flag values as plain ints (pyzmq's enum operators cost microseconds per
# frame).  Fixed by libzmq's API.
_EVENTS = 15  # ZMQ_EVENTS
_POLLIN = 1  # ZMQ_POLLIN
_NOBLOCK = 1  # ZMQ_DONTWAIT

NotificationCallback = Callable[[Any, bytes], None]
"""Called with ``(notification, raw_frame)`` for every frame from the kernel."""


def source_root() -> str | None:
    """The folder holding our packages when they run from a source checkout, else ``None``.

    A kernel (or app process) started with another interpreter gets this folder on its
    ``PYTHONPATH`` so that it imports amphikernel from the checkout.  An installed amphikernel
    (``site-packages``/``dist-packages``) gives ``None``: that folder also holds this
    interpreter's compiled dependencies (msgspec, pyzmq), which would shadow the other
    interpreter's own and fail to import there; the other interpreter's own installation is
    used instead.
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return None if os.path.basename(root) in ("site-packages", "dist-packages") else root


def with_source_root(env: dict[str, str]) -> dict[str, str]:
    """``env`` (changed in place and returned) with :func:`source_root` put first on its
    ``PYTHONPATH`` when there is one: the environment of a kernel or app process we start."""
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root(), env.get("PYTHONPATH", "")) if p)
    return env


class KernelStartError(RuntimeError):
    """The kernel did not start: it exited, printed no ready line in time, or speaks an
    incompatible protocol version.  The message includes the kernel's stderr tail."""


@dataclass
class KernelInfo:
    """What the kernel said on its ready line."""

    protocol: int
    pid: int
    python: str
    capabilities: list[str] = field(default_factory=list)


class KernelTransport(Protocol):
    """How frames travel between host and kernel (one small interface)."""

    addresses: ChannelAddresses

    async def send(self, channel: str, frame: bytes) -> None:
        """Send one frame on a host -> kernel channel."""

    async def recv(self) -> bytes:
        """The next frame from the kernel's stream channel."""

    def recv_nowait(self) -> bytes | None:
        """A frame that has already arrived, or ``None``."""

    def close(self) -> None:
        """Release sockets (idempotent)."""


class ZmqTransport:
    """ZeroMQ transport: the host binds PUSH sockets for the four input channels and a PULL
    socket for the stream (``tcp://127.0.0.1`` on random ports by default, or ``ipc://``
    endpoints under ``ipc_dir``)."""

    def __init__(self, *, host: str = "127.0.0.1", ipc_dir: str | None = None) -> None:
        import zmq
        import zmq.asyncio

        self._zmq = zmq
        self.ctx = zmq.asyncio.Context()
        self._sockets: dict[str, Any] = {}
        endpoints: dict[str, str] = {}
        for name in (*IN_CHANNELS, "stream"):
            sock = self.ctx.socket(zmq.PULL if name == "stream" else zmq.PUSH)
            sock.setsockopt(zmq.LINGER, 0)
            if ipc_dir is not None:
                path = os.path.join(ipc_dir, f"{name}.sock")
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)  # a stale socket file from an earlier run
                sock.bind(f"ipc://{path}")
            else:
                sock.bind(f"tcp://{host}:*")
            endpoints[name] = sock.getsockopt(zmq.LAST_ENDPOINT).decode()
            self._sockets[name] = sock
        self.addresses = ChannelAddresses(**endpoints)
        # A plain (blocking-API) view of the stream socket for non-blocking drains.
        self._stream_sync = zmq.Socket.shadow(self._sockets["stream"].underlying)
        self._stream_fd: int = self._stream_sync.getsockopt(zmq.FD)
        self._watch_loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    async def send(self, channel: str, frame: bytes) -> None:
        await self._sockets[channel].send(frame, copy=len(frame) < 65536)

    async def recv(self) -> bytes:
        """The next frame of the stream socket.

        Waits on the socket's notification descriptor, watched for the transport's lifetime
        (one ``add_reader``), instead of a pyzmq future per wait: a 1,000-cell run arrives in
        about a thousand bursts, and the per-wait futures, reader registrations and
        ``Again`` exceptions cost the host more CPU than decoding the frames.  Loops without
        ``add_reader`` (Windows' proactor) use pyzmq's asyncio ``recv``.

        Raises:
            zmq.ZMQError: the transport was closed (also while waiting).
        """
        while True:
            if self._closed:
                raise self._zmq.ZMQError(self._zmq.ENOTSOCK)
            frame = self.recv_nowait()
            if frame is not None:
                return frame
            loop = asyncio.get_running_loop()
            if self._watch_loop is not loop and not self._watch(loop):
                return await self._sockets["stream"].recv(copy=True)
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _watch(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Watch the stream socket's descriptor in ``loop``; ``False``: the loop cannot."""
        self._unwatch()
        try:
            loop.add_reader(self._stream_fd, self._readable)
        except NotImplementedError:
            return False
        self._watch_loop = loop
        return True

    def _unwatch(self) -> None:
        loop, self._watch_loop = self._watch_loop, None
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(Exception):
                loop.remove_reader(self._stream_fd)

    def _readable(self) -> None:
        # Level-triggered: it fires until ZMQ_EVENTS is read, which recv_nowait does next.
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def recv_nowait(self) -> bytes | None:
        sock = self._stream_sync
        # Ask first: a burst ends with an empty socket, and a failing recv raises (an
        # exception object per burst, thousands of them in a big notebook's run).
        if not sock.getsockopt(_EVENTS) & _POLLIN:
            return None
        try:
            return sock.recv(_NOBLOCK, copy=True)
        except self._zmq.Again:
            return None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._unwatch()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(self._zmq.ZMQError(self._zmq.ENOTSOCK))
        for sock in self._sockets.values():
            sock.close(0)
        self.ctx.term()


class KernelClient:
    """A kernel in a subprocess.

    Args:
        args: how the kernel builds itself (defaults: fd-level console, shared-memory
            virtual files, ``__main__`` module).
        python: the interpreter to run the kernel with (any of 3.10-3.13 with amphikernel,
            pyzmq and msgspec importable); default: this one.
        cwd: the kernel's working directory.
        env: extra environment variables for the kernel.
        transport_factory: builds the transport (default :class:`ZmqTransport`).
    """

    def __init__(
        self,
        args: KernelArgs | None = None,
        *,
        python: str | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        transport_factory: Callable[[], KernelTransport] | None = None,
    ) -> None:
        self.args = args or KernelArgs(console="fd", virtual_files="shared_memory", install_main=True)
        self.python = python or sys.executable
        self.cwd = cwd
        self.env = env
        self._transport_factory = transport_factory or ZmqTransport
        self.transport: KernelTransport | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.info: KernelInfo | None = None
        self._callbacks: list[NotificationCallback] = []
        self._subscribers: list[asyncio.Queue[Any]] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._ready: asyncio.Future[KernelInfo] | None = None
        self._stderr_tail: list[str] = []
        self._stopping = False
        self._stopped = asyncio.Event()
        self.running_cells: set[str] = set()
        self.dead = False
        self.bad_frames = protocol.BadFrames()
        """Undecodable frames received from the kernel (``bad_frames.count``)."""

    # ------------------------------------------------------------------- start
    async def start(self) -> None:
        """Spawn the kernel and send it its launch arguments (returns at once; see
        :meth:`wait_ready`).

        Raises:
            KernelStartError: the interpreter could not be started.
        """
        import msgspec

        from subprocess_host.launch_kernel import LaunchArgs

        self.transport = self._transport_factory()
        self._stopped = asyncio.Event()
        self._stopping = False
        self.dead = False
        self.running_cells.clear()
        env = with_source_root(dict(os.environ))
        if self.env:
            env.update(self.env)
        launch = LaunchArgs(channels=self.transport.addresses, kernel=self.args, parent_pid=os.getpid())
        try:
            self.process = await asyncio.create_subprocess_exec(
                self.python, "-m", "subprocess_host.launch_kernel",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                cwd=self.cwd, env=env,
            )
        except OSError as exc:
            self.transport.close()
            raise KernelStartError(f"cannot start {self.python}: {exc}") from None
        assert self.process.stdin is not None
        self.process.stdin.write(msgspec.json.encode(launch))
        self.process.stdin.close()
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self._tasks = [
            loop.create_task(self._read_stdout()),
            loop.create_task(self._read_stderr()),
            loop.create_task(self._receive()),
            loop.create_task(self._watch()),
        ]

    async def wait_ready(self, timeout: float = 30.0) -> KernelInfo:
        """Wait for the kernel's ready line.

        Raises:
            KernelStartError: the kernel exited, timed out, or speaks another protocol version.
        """
        assert self._ready is not None, "start() first"
        try:
            return await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except asyncio.TimeoutError:
            await self.kill()
            raise KernelStartError(f"kernel not ready after {timeout:g} s{self._stderr_note()}") from None

    def _stderr_note(self) -> str:
        tail = "".join(self._stderr_tail[-20:]).strip()
        return f"; kernel stderr: {tail}" if tail else ""

    async def _read_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                break
            text = line.decode(errors="replace")
            if text.startswith("KERNEL_READY ") and self._ready is not None and not self._ready.done():
                try:
                    raw = json.loads(text[len("KERNEL_READY "):])
                    info = KernelInfo(int(raw["protocol"]), int(raw["pid"]), str(raw["python"]), list(raw.get("capabilities", [])))
                except (ValueError, KeyError, TypeError) as exc:
                    self._ready.set_exception(KernelStartError(f"unreadable ready line {text.strip()!r}: {exc}"))
                    continue
                if info.protocol != protocol.PROTOCOL_VERSION:
                    self._ready.set_exception(
                        KernelStartError(f"kernel speaks protocol {info.protocol}, this host {protocol.PROTOCOL_VERSION}")
                    )
                    continue
                self.info = info
                self._ready.set_result(info)
            else:
                log.debug("kernel stdout: %s", text.rstrip())

    async def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while True:
            line = await self.process.stderr.readline()
            if not line:
                break
            text = line.decode(errors="replace")
            self._stderr_tail.append(text)
            del self._stderr_tail[:-200]
            log.debug("kernel stderr: %s", text.rstrip())

    # --------------------------------------------------------------- receiving
    def _dispatch(self, frame: bytes) -> None:
        try:
            note = protocol.decode_notification(frame)
        except protocol.ProtocolError as exc:
            if self.bad_frames.admit(exc):  # every one counted, logged at a limited rate
                log.error("dropping an undecodable frame from the kernel (%d so far): %s",
                          self.bad_frames.count, exc)
            return
        if isinstance(note, protocol.CellStatus):
            if note.status == "running":
                self.running_cells.add(note.cell_id)
            else:
                self.running_cells.discard(note.cell_id)
        elif isinstance(note, protocol.KernelStopped):
            self._stopped.set()
            if self.transport is not None:
                asyncio.get_running_loop().create_task(self._send_raw("control", protocol.encode(protocol.StoppedAck())))
        for callback in list(self._callbacks):
            try:
                callback(note, frame)
            except Exception:
                log.exception("notification callback failed")
        for q in list(self._subscribers):
            q.put_nowait(note)

    async def _receive(self) -> None:
        assert self.transport is not None
        transport = self.transport
        while True:
            try:
                frame = await transport.recv()
            except asyncio.CancelledError:
                raise
            except Exception:  # transport closed
                return
            self._dispatch(frame)
            # Frames come in bursts (statuses, outputs, completed-run): take every frame that
            # has already arrived before waiting again, one event-loop wake-up per burst.
            while (more := transport.recv_nowait()) is not None:
                self._dispatch(more)
            # A kernel that floods output must not starve the event loop: finished futures
            # never suspend, so yield explicitly between bursts.
            await asyncio.sleep(0)

    async def _watch(self) -> None:
        assert self.process is not None
        returncode = await self.process.wait()
        # Deliver what had already arrived before reporting the death.
        if self.transport is not None:
            while (frame := self.transport.recv_nowait()) is not None:
                self._dispatch(frame)
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(KernelStartError(f"kernel exited with status {returncode} before it was ready{self._stderr_note()}"))
        if not (self._stopping and self._stopped.is_set()) and not (self._stopping and returncode == 0):
            self.dead = True
            self.running_cells.clear()
            reason = f"killed by signal {-returncode}" if returncode < 0 else f"exited with status {returncode}"
            note = protocol.KernelDied(returncode=returncode, reason=reason)
            self._dispatch(protocol.encode(note))

    # ------------------------------------------------------------------ public
    def on_notification(self, callback: NotificationCallback) -> Callable[[], None]:
        """Call ``callback(note, frame)`` for every notification; returns an unsubscribe."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    async def notifications(self) -> AsyncIterator[Any]:
        """Every notification from now on, as an async iterator (ends after kernel-died)."""
        q: asyncio.Queue[Any] = asyncio.Queue()
        self._subscribers.append(q)
        try:
            while True:
                note = await q.get()
                yield note
                if isinstance(note, protocol.KernelDied):
                    return
        finally:
            self._subscribers.remove(q)

    async def _send_raw(self, channel: str, frame: bytes) -> None:
        if self.transport is None:
            return
        with contextlib.suppress(Exception):
            await self.transport.send(channel, frame)

    async def send(self, command: Any) -> None:
        """Send a command on its channel.

        Raises:
            RuntimeError: the kernel is not running.
        """
        if self.transport is None or self.dead:
            raise RuntimeError("the kernel is not running")
        if isinstance(command, protocol.Interrupt):
            self.interrupt()
        await self.transport.send(channel_for(command), protocol.encode(command))

    async def send_frame(self, frame: bytes) -> None:
        """Send an already-encoded command frame (decoded only to pick its channel)."""
        try:
            command = protocol.decode_command(frame)
        except protocol.CommandDecodeError:
            channel = "control"  # the kernel reports it
        else:
            if isinstance(command, protocol.Interrupt):
                self.interrupt()
            channel = channel_for(command)
        if self.transport is None or self.dead:
            raise RuntimeError("the kernel is not running")
        await self.transport.send(channel, frame)

    def interrupt(self) -> None:
        """Interrupt the running cell (SIGINT to the kernel; ignored while it is idle)."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGINT)

    def poll(self) -> int | None:
        """The kernel's exit status, or ``None`` while it runs."""
        return None if self.process is None else self.process.returncode

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def kill(self) -> None:
        """SIGKILL the kernel and release everything."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self._finish(5.0)

    async def shutdown(self, timeout: float = 5.0) -> int | None:
        """Stop the kernel: ``stop``, then SIGTERM, then SIGKILL, each after ``timeout``
        seconds without exit.  Returns the exit status; never hangs."""
        if self.process is None:
            return None
        self._stopping = True
        if self.process.returncode is None and not self.dead:
            await self._send_raw("control", protocol.encode(protocol.Stop()))
            for escalate in (None, signal.SIGTERM, signal.SIGKILL):
                if escalate is not None and self.process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        self.process.send_signal(escalate)
                try:
                    await asyncio.wait_for(self.process.wait(), timeout)
                    break
                except asyncio.TimeoutError:
                    continue
        await self._finish(timeout)
        return self.process.returncode

    async def _finish(self, timeout: float) -> None:
        if self.process is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.process.wait(), timeout)
        # Let the watcher report and the readers drain, then stop them.
        for task in self._tasks:
            if task.get_coro().__name__ in ("_watch", "_read_stdout", "_read_stderr"):  # type: ignore[union-attr]
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
                    await asyncio.wait_for(asyncio.shield(task), 1.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    async def restart(self, timeout: float = 5.0) -> KernelInfo:
        """Stop this kernel and start a fresh one with the same arguments; callbacks stay."""
        await self.shutdown(timeout)
        await self.start()
        return await self.wait_ready(timeout * 6)
