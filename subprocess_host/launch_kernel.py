"""Kernel subprocess entry point: ``python -m subprocess_host.launch_kernel``.

Reads :class:`LaunchArgs` (msgspec JSON) from stdin until EOF, connects its ZeroMQ sockets to
the host, and runs the lifecycle core with the threaded queue reader (fd-level console
capture and shared-memory virtual files by default).  Prints one line
``KERNEL_READY {"protocol": N, "pid": ..., "python": "3.x.y", "capabilities": [...]}`` on
stdout once it can run a cell.

Signals: SIGINT interrupts the running cell (ignored while idle); SIGTERM ends the run and
stops the kernel.  The kernel exits by itself when its parent dies.  On ``stop`` it sends
``kernel-stopped`` and waits (at most :data:`ACK_TIMEOUT` seconds) for ``stopped-ack`` before
closing its sockets, so nothing sent before the stop is lost.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import signal
import sys
import threading
from typing import Any

import msgspec

from lifecycle import protocol
from lifecycle.kernel_lifecycle import KernelArgs, KernelRuntime
from subprocess_host.channels import IN_CHANNELS, ChannelAddresses

ACK_TIMEOUT = 1.0
"""Seconds to wait for the host's ``stopped-ack`` before closing anyway."""

log = logging.getLogger("amphikernel.kernel")

CAPABILITIES = ["interrupt", "stdin", "virtual-files", "completion", "fd-console"]


class LaunchArgs(msgspec.Struct, kw_only=True):
    """What the host sends on the kernel's stdin (JSON).

    Attributes:
        channels: the ZeroMQ endpoints to connect to.
        kernel: how to build the kernel (:class:`lifecycle.kernel_lifecycle.KernelArgs`).
        parent_pid: the host's pid; the kernel exits when it is gone (default: its parent).
    """

    channels: ChannelAddresses
    kernel: KernelArgs = msgspec.field(
        default_factory=lambda: KernelArgs(console="fd", virtual_files="shared_memory", install_main=True)
    )
    parent_pid: int | None = None


class LaunchError(Exception):
    """Bad launch arguments or environment: reported as one line on stderr."""


def parse_args(raw: bytes) -> LaunchArgs:
    """Decode the launch arguments.

    Raises:
        LaunchError: empty input, invalid JSON or a field that fails validation.
    """
    if not raw.strip():
        raise LaunchError("no launch arguments on stdin (expected one JSON object)")
    try:
        return msgspec.json.decode(raw, type=LaunchArgs)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise LaunchError(f"invalid launch arguments: {exc}") from None


def _watch_parent(parent_pid: int, on_gone: Any) -> None:
    """Exit with the parent: PR_SET_PDEATHSIG on Linux, polling everywhere."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def poll() -> None:
        stop = threading.Event()
        while not stop.wait(0.25):
            if os.getppid() != parent_pid:
                on_gone()
                return

    threading.Thread(target=poll, name="amphi-parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:
        on_gone()


class _KernelProcess:
    """The sockets, threads and signal handlers around one kernel."""

    def __init__(self, args: LaunchArgs) -> None:
        import zmq

        self.zmq = zmq
        self.args = args
        self.ctx = zmq.Context()
        self.in_sockets = []
        for name in IN_CHANNELS:
            sock = self.ctx.socket(zmq.PULL)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(args.channels.get(name))
            self.in_sockets.append(sock)
        self.stream = self.ctx.socket(zmq.PUSH)
        self.stream.setsockopt(zmq.LINGER, int(ACK_TIMEOUT * 1000))
        self.stream.connect(args.channels.stream)
        self.wake_recv = self.ctx.socket(zmq.PAIR)
        self.wake_recv.bind(f"inproc://wake-{id(self)}")
        self.wake_send = self.ctx.socket(zmq.PAIR)
        self.wake_send.connect(f"inproc://wake-{id(self)}")
        self.send_lock = threading.Lock()
        self.control: queue.Queue[Any] = queue.Queue()
        self.ui: queue.Queue[Any] = queue.Queue()
        self.acked = threading.Event()
        self.orphaned = False
        """The host is gone (parent died): shut down without waiting for its ack."""
        self.parent_pid = os.getppid()
        self.stopping = threading.Event()
        self.kernel: Any = None
        self.runtime: KernelRuntime | None = None
        self.reader: threading.Thread | None = None
        self._completion: Any = None
        self.bad_frames = protocol.BadFrames()

    # ---------------------------------------------------------------- channels
    def emit(self, note: Any) -> None:
        frame = protocol.encode(note)
        with self.send_lock:
            self.stream.send(frame, copy=len(frame) < 65536)

    def _read(self) -> None:
        zmq = self.zmq
        poller = zmq.Poller()
        for sock in (*self.in_sockets, self.wake_recv):
            poller.register(sock, zmq.POLLIN)
        while True:
            events = dict(poller.poll())
            if self.wake_recv in events:
                return
            for sock in self.in_sockets:
                if sock in events:
                    # One frame per readable socket, then poll again: it returns at once while
                    # more are waiting, and the GIL is free as soon as the queue is empty.
                    frame = sock.recv(copy=True)
                    try:
                        self._route(frame)
                    except Exception:  # never let one frame end the reader: the kernel would go deaf
                        log.exception("error while routing a %d-byte frame", len(frame))

    def _route(self, frame: bytes) -> None:
        try:
            command = protocol.decode_command(frame)
        except protocol.CommandDecodeError as exc:
            # Every bad frame is counted; reports are rate-limited so a flood of them neither
            # floods the host nor grows the control queue.
            if self.bad_frames.admit(exc):
                self.control.put(exc)
            return
        if isinstance(command, protocol.StoppedAck):
            self.acked.set()
            return
        if self.stopping.is_set():
            return
        router = self.runtime.router if self.runtime is not None else None
        if router is None:
            self.control.put(command)
        else:
            router.submit(command)

    # ------------------------------------------------------------------ signals
    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.kernel is not None and self.kernel.running_cell is not None:
            raise KeyboardInterrupt

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        if os.getppid() != self.parent_pid:  # PR_SET_PDEATHSIG: the host is gone
            self.orphaned = True
        self.request_stop()
        if self.kernel is not None and self.kernel.running_cell is not None:
            raise KeyboardInterrupt

    def request_stop(self) -> None:
        self.control.put(protocol.Stop())

    def _parent_gone(self) -> None:
        """The host died: stop without waiting for an acknowledgement nobody will send."""
        self.orphaned = True
        self.request_stop()

    # ---------------------------------------------------------------------- run
    def _on_ready(self, kernel: Any, runtime: KernelRuntime) -> None:
        self.kernel, self.runtime = kernel, runtime
        # Everything allocated so far (modules, classes, the kernel) lives as long as the
        # process: move it out of the collector's generations, so the full collections a
        # big notebook's run triggers traverse only the notebook's own objects.
        gc.freeze()
        self.reader = threading.Thread(target=self._read, name="amphi-channel-reader", daemon=True)
        self.reader.start()
        if runtime.router is not None:
            runtime.router.completer = self._complete
            runtime.closers.append(self._close_completion)
        info = {
            "protocol": protocol.PROTOCOL_VERSION,
            "pid": os.getpid(),
            "python": ".".join(map(str, sys.version_info[:3])),
            "capabilities": CAPABILITIES,
        }
        os.write(1, b"KERNEL_READY " + msgspec.json.encode(info) + b"\n")

    def _complete(self, command: protocol.Complete) -> None:
        # The completion worker (and jedi) start on the first request, not at kernel start:
        # start-up stays fast and the first cell does not compete with jedi for the GIL.
        if self._completion is None:
            from lifecycle import completion

            kernel = self.kernel
            self._completion = completion.CompletionWorker(self.emit, lambda: kernel.globals)
        self._completion.submit(command)

    def _close_completion(self) -> None:
        if self._completion is not None:
            self._completion.close(timeout=ACK_TIMEOUT)

    def run(self) -> None:
        from lifecycle.kernel_lifecycle import run_sync, serve, threaded_queue_reader

        signal.signal(signal.SIGINT, self._on_sigint)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        self.parent_pid = self.args.parent_pid or os.getppid()
        _watch_parent(self.parent_pid, self._parent_gone)
        try:
            # The control loop never suspends with the threaded reader: no event loop needed
            # (cells using top-level await get one from the kernel).
            run_sync(
                serve(self.args.kernel, self.emit, self.control, self.ui, threaded_queue_reader,
                      capabilities=CAPABILITIES, on_ready=self._on_ready)
            )
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.stopping.set()
        try:
            self.emit(protocol.KernelStopped())
            if not self.orphaned:
                self.acked.wait(ACK_TIMEOUT)
        finally:
            with self.send_lock:
                self.wake_send.send(b"")
            if self.reader is not None:
                self.reader.join(ACK_TIMEOUT)
            for sock in (*self.in_sockets, self.wake_recv, self.wake_send):
                sock.close(0)
            self.stream.close(0 if self.acked.is_set() or self.orphaned else int(ACK_TIMEOUT * 1000))
            self.ctx.term()


def main(argv: list[str] | None = None) -> int:
    """Run a kernel subprocess.  Returns the exit status (2 for bad arguments)."""
    try:
        args = parse_args(sys.stdin.buffer.read())
    except LaunchError as exc:
        print(f"amphikernel kernel: {exc}", file=sys.stderr)
        return 2
    try:
        process = _KernelProcess(args)
    except Exception as exc:  # ZeroMQ cannot connect: a bad endpoint
        print(f"amphikernel kernel: cannot set up channels: {exc}", file=sys.stderr)
        return 2
    process.run()
    return 0


if __name__ == "__main__":
    status = main()
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
