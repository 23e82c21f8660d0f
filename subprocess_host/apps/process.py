"""App process entry point: ``python -m subprocess_host.apps.process``.

Started with ``Popen`` (:class:`~subprocess_host.apps.provisioner.LocalProvisioner`) or
forked from the server's warm template process, which then calls :func:`main` with the
stdin/stdout pipes the server gave it (:mod:`subprocess_host.apps.zygote`).

One OS process per notebook app (its own ``sys.modules``: two apps that each ``import utils``
from their own folder get their own module), one kernel thread per reader inside it.

Start-up, in order:

1. SIGINT is ignored (Ctrl-C in the terminal reaches the whole process group; the server
   stops its apps itself, see *Stopping*).
2. One line of JSON (:class:`~subprocess_host.apps.wire.AppLaunchArgs`) is read from stdin.
   stdin stays open: its EOF, or the server's pid disappearing, makes the process exit.
3. A CURVE key pair is made for this process (``zmq.curve_keypair``); the four sockets of
   :mod:`subprocess_host.apps.wire` are bound on ephemeral loopback ports as CURVE servers; a
   ZAP handler (RFC 27, served by the main loop itself, no extra thread) accepts only the
   server's public key from the launch arguments.
4. The ready line ``APP_READY {"protocol": N, "pid": ..., "python": "3.x.y", "public_key":
   ..., "endpoints": {...}}`` is printed.  Only zmq, msgspec and the stdlib are imported
   before it: the kernel machinery (:mod:`lifecycle`) is imported by a background thread
   started right after the ready line, while the server connects; the first
   ``create-kernel`` waits for it.  Thread-local console proxies are installed once, by that
   thread, for the life of the process.

Sessions: ``create-kernel`` starts a kernel thread (run mode, thread-local console,
shared-memory virtual files named ``amphi_<pid>_...`` that the server reads for ``/@file/``);
its notifications go out on ``stream`` as ``[session id, frame]``; ``cmd`` frames
``[session id, channel, frame]`` are routed to its command router (UI updates merged,
interrupts raised as an asynchronous ``KeyboardInterrupt`` in its thread).  Frames for an
unknown session are counted, logged and dropped (a ``dropped`` event tells the server).

Several server instances (relays): each session is attached to the instance whose routing id
asked for it (``create-kernel``, ``attach-session``); its stream frames and events go to that
instance only; its resync state (:class:`~subprocess_host.apps.resync.SessionResync`) is kept
here, so ``attach-session`` from any instance resumes it.  A session whose instance detached it
or stopped sending heartbeats for :data:`INSTANCE_TIMEOUT` seconds is stopped after the grace
period of the launch arguments.  A *detached* app (``detached``: shared through an
:mod:`~subprocess_host.apps.directory`) outlives the instance that launched it and exits once it
has had no session and no heartbeat for the grace period.

Stopping: ``shutdown`` on ``mgmt`` stops every kernel thread (at most :data:`STOP_TIMEOUT`
seconds), answers ``ok``, closes every socket with linger 0 and exits with status 0.
"""

from __future__ import annotations

import hmac
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

import msgspec
import zmq
from zmq.utils import z85

from subprocess_host.apps import wire

log = logging.getLogger("amphikernel.app")

STOP_TIMEOUT = 2.0
"""Seconds the kernel threads get to stop at ``shutdown`` before the process exits anyway."""

POLL_MS = 250
"""Main-loop poll period, milliseconds (how often the server's pid is checked)."""

SEND_TIMEOUT = 10.0
"""Seconds a frame waits for room in a slow instance's pipe before it is dropped (the
session's resync state still has it: the reader gets it again when it reconnects)."""

INSTANCE_TIMEOUT = 3.0
"""Seconds without a heartbeat after which a server instance counts as gone."""

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
ZAP_DOMAIN = b"amphi"


class _Session:
    """One kernel thread and its queues."""

    def __init__(self, app: AppProcess, session_id: str) -> None:
        import queue

        self.app = app
        self.id = session_id
        self.key = session_id.encode("ascii")
        self.control: Any = queue.Queue()
        self.ui: Any = queue.Queue()
        self.router: Any = None
        self.kernel: Any = None
        self.stop_requested = False
        self.owner: bytes | None = None
        """Routing id of the instance the session is attached to."""
        self.reader_key = ""
        self.detached_since: float | None = None
        from subprocess_host.apps.resync import SessionResync

        self.resync = SessionResync()
        self.thread = threading.Thread(target=self._main, name=f"amphi-app-kernel-{session_id}", daemon=True)

    def emit(self, note: Any) -> None:
        from lifecycle import protocol

        self.app.send_note(self, note, protocol.encode(note))

    def _interrupt(self) -> None:
        from subprocess_host.thread_kernel import raise_in_thread

        ident = self.thread.ident
        if ident is not None and self.kernel is not None and self.kernel.running_cell is not None:
            raise_in_thread(ident, KeyboardInterrupt)

    def _on_ready(self, kernel: Any, runtime: Any) -> None:
        self.kernel, self.router = kernel, runtime.router

    def _main(self) -> None:
        from lifecycle.kernel_lifecycle import KernelArgs, run_sync, serve, threaded_queue_reader

        args = KernelArgs(mode="run", semantics=self.app.args.semantics, console="thread-local",
                          virtual_files="shared_memory")
        returncode, reason = 0, ""
        try:
            run_sync(serve(args, self.emit, self.control, self.ui, threaded_queue_reader,
                           capabilities=["interrupt", "stdin", "virtual-files"],
                           on_ready=self._on_ready, interrupt=self._interrupt))
        except BaseException as exc:  # the thread must always report its end
            returncode, reason = 1, repr(exc)
            log.error("kernel thread %s failed: %r", self.id, exc)
        self.app.session_ended(self, returncode, reason)

    def submit(self, frame: bytes) -> None:
        from lifecycle.kernel_lifecycle import submit_frame

        router = self.router
        if router is not None:
            router.submit_frame(frame)
        else:  # not ready yet: the control loop reads these queues once it starts
            submit_frame(self.control, self.ui, frame)

    def request_stop(self) -> None:
        from lifecycle import protocol

        self.stop_requested = True
        self.control.put(protocol.Stop())

    def stop(self, timeout: float) -> None:
        """Stop and join (interrupting a running cell once a second)."""
        self.request_stop()
        deadline = time.monotonic() + timeout
        last = 0.0
        while self.thread.is_alive() and time.monotonic() < deadline:
            if time.monotonic() - last >= 1.0:
                self._interrupt()
                last = time.monotonic()
            self.thread.join(0.02)


class AppProcess:
    """The sockets, the main loop and the sessions of one app process.

    Args:
        args: the launch arguments.

    Raises:
        zmq.ZMQError: a socket cannot be bound.
    """

    def __init__(self, args: wire.AppLaunchArgs) -> None:
        self.args = args
        self.server_key = z85.decode(args.server_public_key.encode("ascii"))
        public, secret = zmq.curve_keypair()
        self.public_key = public.decode("ascii")
        self.ctx = zmq.Context()
        self.zap = self.ctx.socket(zmq.REP)
        self.zap.linger = 0
        self.zap.bind(ZAP_ENDPOINT)
        self.sockets: dict[str, zmq.Socket[Any]] = {}
        self.endpoints: dict[str, str] = {}
        kinds = {"mgmt": zmq.ROUTER, "events": zmq.ROUTER, "cmd": zmq.PULL, "stream": zmq.ROUTER}
        for name in wire.SOCKETS:
            sock = self.ctx.socket(kinds[name])
            sock.linger = 0
            sock.curve_server = True
            sock.curve_secretkey = secret
            sock.curve_publickey = public
            sock.zap_domain = ZAP_DOMAIN
            if kinds[name] == zmq.ROUTER:
                sock.router_handover = 1  # a restarted instance with the same id takes over
            if name in ("stream", "events"):
                # Back-pressure as PUSH had: a full pipe blocks the sender (at most
                # SEND_TIMEOUT), an instance that is gone raises at once (frame dropped).
                sock.router_mandatory = 1
                sock.sndtimeo = int(SEND_TIMEOUT * 1000)
            port = sock.bind_to_random_port(f"tcp://{args.host}")
            self.sockets[name] = sock
            self.endpoints[name] = f"tcp://{args.host}:{port}"
        self.send_lock = threading.Lock()
        self.sessions: dict[str, _Session] = {}
        self.sessions_lock = threading.Lock()
        self.dropped = 0
        self.stopping = False
        self.preloaded = threading.Event()
        self.preload_error: BaseException | None = None
        self.instances: dict[bytes, float] = {}
        """Routing id -> when its last management message (heartbeat) came (monotonic)."""
        self.idle_since = time.monotonic()

    # ------------------------------------------------------------ readiness
    def ready_line(self) -> bytes:
        return wire.encode_ready(wire.AppReady(
            protocol=wire.PROTOCOL_VERSION, pid=os.getpid(), python=".".join(map(str, sys.version_info[:3])),
            public_key=self.public_key, endpoints=self.endpoints,
        ))

    def preload(self) -> None:
        """Import the kernel machinery and install the thread-local console proxies once."""
        try:
            import lifecycle.kernel_lifecycle  # noqa: F401
            import subprocess_host.thread_kernel  # noqa: F401  (raise_in_thread)
            from lifecycle.streams.thread_local import install_thread_local_proxies

            install_thread_local_proxies()  # held for the life of the process
        except BaseException as exc:  # reported on create-kernel
            self.preload_error = exc
        finally:
            self.preloaded.set()

    # -------------------------------------------------------------- sending
    def send_note(self, session: _Session, note: Any, frame: bytes) -> None:
        """Record one notification in the session's resync state and send it to the
        instance the session is attached to (atomically with respect to an attach)."""
        with self.send_lock:
            session.resync.note(note, frame)
            if session.owner is not None:
                self._send_routed("stream", session.owner, [session.key, frame])

    def _send_routed(self, name: str, owner: bytes, frames: list[bytes]) -> None:
        """Send to one instance (the caller holds the send lock); dropped if it is gone."""
        try:
            self.sockets[name].send_multipart([owner, *frames], copy=len(frames[-1]) < 65536)
        except zmq.Again:
            log.warning("app %s: instance %r does not read its %s frames; one dropped", self.args.name, owner, name)
        except zmq.ZMQError:
            pass  # EHOSTUNREACH: that instance is gone

    def send_event(self, event: Any, to: bytes | None = None) -> None:
        """Send an event to instance ``to`` (``None``: every instance alive)."""
        frame = wire.encode_mgmt(event)
        with self.send_lock:
            for owner in [to] if to is not None else self._live_instances():
                self._send_routed("events", owner, [frame])

    def _live_instances(self) -> list[bytes]:
        now = time.monotonic()
        return [i for i, seen in self.instances.items() if now - seen < INSTANCE_TIMEOUT]

    def session_ended(self, session: _Session, returncode: int, reason: str) -> None:
        with self.sessions_lock:
            if self.sessions.get(session.id) is session:
                del self.sessions[session.id]
            self.idle_since = time.monotonic()
        if session.owner is not None:
            self.send_event(wire.KernelEnded(session=session.id, returncode=returncode, reason=reason), session.owner)

    # ----------------------------------------------------------- main loop
    def run(self) -> None:
        poller = zmq.Poller()
        for sock in (self.zap, self.sockets["mgmt"], self.sockets["cmd"]):
            poller.register(sock, zmq.POLLIN)
        poller.register(0, zmq.POLLIN)  # stdin: EOF = the server is gone
        first_parent = os.getppid()
        server = self.args.parent_pid
        forked = server is not None and server != first_parent  # by the template: watch the server
        if self.args.detached:
            poller.unregister(0)
        while not self.stopping:
            events = dict(poller.poll(POLL_MS))
            if self.zap in events:
                self._answer_zap()
            if self.sockets["mgmt"] in events:
                self._on_mgmt()
            if self.sockets["cmd"] in events:
                self._on_cmd()
            self._check_grace()
            if self.args.detached:
                continue
            if (0 in events and not os.read(0, 65536)) or (
                    not wire.pid_alive(server) if forked and server is not None else os.getppid() != first_parent):
                self._exit_orphaned()
        self.close()

    def _check_grace(self) -> None:
        """Stop sessions left without a live instance for the grace period; a detached app
        with no session and no live instance for that long exits."""
        now = time.monotonic()
        live = set(self._live_instances())
        for session in list(self.sessions.values()):
            if session.owner is not None and session.owner in live:
                session.detached_since = None
            elif session.detached_since is None:
                session.detached_since = now
            elif now - session.detached_since >= self.args.grace and not session.stop_requested:
                log.info("app %s: session %s had no reader for %g s; stopping it", self.args.name,
                         session.id, self.args.grace)
                session.stop_requested = True
                threading.Thread(target=session.stop, args=(STOP_TIMEOUT,), daemon=True).start()
        if self.sessions or live:
            self.idle_since = now
        elif self.args.detached and now - self.idle_since >= self.args.grace:
            log.info("app %s: no session and no server instance for %g s; exiting", self.args.name, self.args.grace)
            self.stopping = True

    def _exit_orphaned(self) -> None:
        """The server is gone (stdin EOF, or its pid): stop the kernels for at most
        :data:`STOP_TIMEOUT` seconds, then exit without closing anything (a kernel thread may
        be blocked for ever sending to the vanished server; shared-memory segments are then
        unlinked by this process's resource tracker)."""
        log.info("app %s: the server is gone; exiting", self.args.name)
        stopper = threading.Thread(target=self._stop_all, name="amphi-app-stop", daemon=True)
        stopper.start()
        stopper.join(STOP_TIMEOUT + 0.5)
        sys.stderr.flush()
        os._exit(0)

    def _answer_zap(self) -> None:
        frames = self.zap.recv_multipart()
        ok = (len(frames) >= 7 and frames[0] == b"1.0" and frames[5] == b"CURVE"
              and frames[6] == self.server_key)
        request_id = frames[1] if len(frames) > 1 else b""
        status = [b"200", b"OK"] if ok else [b"400", b"unknown client key"]
        if not ok:
            log.warning("app %s: refused a connection with an unknown CURVE key", self.args.name)
        self.zap.send_multipart([b"1.0", request_id, *status, b"server" if ok else b"", b""])

    def _on_cmd(self) -> None:
        sock = self.sockets["cmd"]
        for _ in range(100):  # bounded: management and ZAP stay responsive
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            parsed = wire.decode_mux(frames, with_channel=True)
            session = self.sessions.get(parsed[0]) if parsed is not None else None
            if parsed is None or session is None or session.stop_requested:
                self._drop(parsed[0] if parsed else None)
                continue
            with self.send_lock:
                session.resync.command(parsed[2])
            session.submit(parsed[2])

    def _drop(self, session_id: str | None) -> None:
        self.dropped += 1
        log.warning("app %s: dropped a command frame for %s (%d dropped so far)", self.args.name,
                    f"unknown session {session_id!r}" if session_id else "a malformed message", self.dropped)
        self.send_event(wire.Dropped(total=self.dropped))

    def _on_mgmt(self) -> None:
        sock = self.sockets["mgmt"]
        frames = sock.recv_multipart()
        if len(frames) != 2:
            self._drop(None)
            return
        peer, body = frames
        self.instances[peer] = time.monotonic()
        request = wire.decode_mgmt_request(body)
        reply = self._handle(request, peer)
        if reply is not None:
            sock.send_multipart([peer, wire.encode_mgmt(reply)])

    def _handle(self, request: Any, peer: bytes) -> Any:
        rid = getattr(request, "request_id", 0)
        if isinstance(request, wire.MgmtError):
            return request
        if isinstance(request, wire.Ping):
            status = wire.Status(request_id=rid, sessions=sorted(self.sessions), dropped=self.dropped, pid=os.getpid())
            with self.send_lock:  # route probes: the instance learns its output reaches it
                self._send_routed("stream", peer, [b""])
                self._send_routed("events", peer, [wire.encode_mgmt(wire.Status(pid=status.pid))])
            return status
        if isinstance(request, wire.CreateKernel):
            if not wire.decode_mux([request.session.encode("utf-8"), b""], with_channel=False):
                return wire.MgmtError(request_id=rid, message="invalid session id")
            if request.session in self.sessions:
                return wire.MgmtError(request_id=rid, message="session exists")
            self.preloaded.wait()
            if self.preload_error is not None:
                return wire.MgmtError(request_id=rid, message=f"cannot load the kernel: {self.preload_error!r}")
            session = _Session(self, request.session)
            session.owner, session.reader_key = peer, _key_digest(request.key)
            with self.sessions_lock:
                self.sessions[session.id] = session
            session.thread.start()
            return wire.Ok(request_id=rid)
        if isinstance(request, wire.AttachSession):
            found = self.sessions.get(request.session)
            if found is None or found.stop_requested:
                return wire.MgmtError(request_id=rid, message="no such session")
            if not hmac.compare_digest(found.reader_key, _key_digest(request.key)):
                return wire.MgmtError(request_id=rid, message="no such session")
            with self.send_lock:  # no live frame can slip between the resync frames
                found.owner, found.detached_since = peer, None
                for frame in found.resync.frames():
                    self._send_routed("stream", peer, [found.key, frame])
            return wire.Ok(request_id=rid)
        if isinstance(request, wire.DetachSession):
            found = self.sessions.get(request.session)
            if found is not None and found.owner == peer:
                with self.send_lock:
                    found.owner = None
                found.detached_since = time.monotonic()
            return wire.Ok(request_id=rid)
        if isinstance(request, wire.StopKernel):
            found = self.sessions.get(request.session)
            if found is None:
                return wire.MgmtError(request_id=rid, message="no such session")
            threading.Thread(target=found.stop, args=(STOP_TIMEOUT,), daemon=True).start()
            return wire.Ok(request_id=rid)
        if isinstance(request, wire.Shutdown):
            self._stop_all()
            self.sockets["mgmt"].send_multipart([peer, wire.encode_mgmt(wire.Ok(request_id=rid))])
            return None
        return wire.MgmtError(request_id=rid, message="not a request")

    def _stop_all(self) -> None:
        self.stopping = True
        sessions = list(self.sessions.values())
        for session in sessions:
            session.request_stop()
        deadline = time.monotonic() + STOP_TIMEOUT
        for session in sessions:
            session.stop(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Close every socket with linger 0 and end the context."""
        with self.send_lock:
            for sock in (*self.sockets.values(), self.zap):
                sock.close(0)
        self.ctx.term()



def _key_digest(key: str) -> str:
    """What is kept of a reader's browser key (its SHA-256, hex)."""
    import hashlib

    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def _forget_entry(path: str) -> None:
    """Remove this app's directory entry ``path`` if it still names this process."""
    if not path:
        return
    try:
        with open(path, "rb") as fh:
            entry = msgspec.json.decode(fh.read())
        if isinstance(entry, dict) and entry.get("pid") == os.getpid():
            os.unlink(path)
    except (OSError, msgspec.DecodeError):
        pass


def main() -> int:
    """Run an app process; returns the exit status (2: bad launch arguments or sockets)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    line = sys.stdin.buffer.readline()
    try:
        args = msgspec.json.decode(line, type=wire.AppLaunchArgs)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        print(f"amphikernel app: invalid launch arguments: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(stream=sys.__stderr__, format=f"amphi app {args.name}: %(levelname)s: %(message)s")
    folder = os.path.dirname(os.path.abspath(args.notebook))
    try:
        os.chdir(folder)
    except OSError as exc:
        print(f"amphikernel app: cannot enter {folder}: {exc}", file=sys.stderr)
        return 2
    sys.path.insert(0, folder)  # `import utils` finds the app's own utils.py first
    try:
        app = AppProcess(args)
    except zmq.ZMQError as exc:
        print(f"amphikernel app: cannot bind sockets: {exc}", file=sys.stderr)
        return 2
    os.write(1, app.ready_line())
    if args.detached:  # the launcher may go away: keep no pipe to it
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)
    threading.Thread(target=app.preload, name="amphi-app-preload", daemon=True).start()
    try:
        app.run()
    finally:
        _forget_entry(args.registry_entry)
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
