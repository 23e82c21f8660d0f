"""A pre-warmed template process that forks app processes: ``python -m subprocess_host.apps.zygote``.

Why: an app process started with ``Popen`` pays the interpreter start, ``import zmq`` and
the kernel machinery (about 2x ``python -c "import zmq, msgspec"`` before its first kernel is
ready).  The template (a "zygote") is started once with the server, with ``Popen``, imports
all of that, and then only forks.  A forked app process runs exactly the code and protocol
of :mod:`subprocess_host.apps.process`: launch arguments as one JSON line on its own stdin,
the ``APP_READY`` line on its own stdout, because the server hands the template the two pipe
ends for the new process's fd 0 and fd 1 (``SCM_RIGHTS`` over a Unix socket pair).  Its
``sys.modules`` holds only what the template imported (the standard library, zmq, msgspec,
:mod:`lifecycle`); the notebook's own modules are imported after the fork, per app.

Template protocol on its Unix socket (one JSON object per datagram):

* server -> template: ``{"id": N, "env": {...}}`` with two file descriptors attached;
* template -> server: ``{"id": N, "pid": P}`` once forked, and ``{"exit": P, "status": S}``
  when an app process ends (the template reaps its children; ``S`` negative: killed by
  that signal).

The template has no threads when it forks.  It exits when the server closes the socket (the
server died or stopped it); app processes exit on their own stdin's EOF.  It ignores SIGINT,
as app processes do.  :class:`ZygoteProvisioner` is the server's side; apps that need
another interpreter (``python=``) use :class:`~subprocess_host.apps.provisioner.LocalProvisioner`.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from subprocess_host.apps import wire
from subprocess_host.apps.provisioner import (
    AppEndpoints,
    AppProvisioner,
    AppSpec,
    AppStartError,
    LocalProcessProvisioner,
)

READY = b"ZYGOTE_READY\n"


# ------------------------------------------------------------------ template side


def _child(fds: list[int], env: dict[str, str], sock: socket.socket) -> None:
    """In the forked process: become an app process (never returns)."""
    status = 1
    try:
        sock.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(fds[0], 0)
        os.dup2(fds[1], 1)
        for fd in fds:
            os.close(fd)
        os.environ.update(env)
        from subprocess_host.apps import process

        status = process.main()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException as exc:  # report, never fall back into the template's loop
        try:
            os.write(2, f"amphikernel app: {exc!r}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(status)


def serve_template(sock: socket.socket) -> None:
    """The template's loop: fork on request, reap and report children."""
    children: set[int] = set()
    while True:
        readable, _, _ = select.select([sock], [], [], 0.2)
        while children:
            try:
                pid, raw = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            children.discard(pid)
            status = -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)
            sock.send(json.dumps({"exit": pid, "status": status}).encode())
        if not readable:
            continue
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, 65536, 2)
        except OSError:
            return
        if not data:
            return  # the server closed its end
        try:
            request = json.loads(data)
        except ValueError:
            for fd in fds:
                os.close(fd)
            continue
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"id": request.get("id"), "error": "expected two descriptors"}).encode())
            continue
        pid = os.fork()
        if pid == 0:
            _child(fds, dict(request.get("env") or {}), sock)
        for fd in fds:
            os.close(fd)
        children.add(pid)
        sock.send(json.dumps({"id": request.get("id"), "pid": pid}).encode())


def _rehearse() -> None:
    """Create a kernel, run one cell and tear it down, in this thread: every module a first
    kernel imports lazily is then imported once here instead of in each app process."""
    import queue

    from lifecycle import protocol
    from lifecycle.kernel_lifecycle import KernelArgs, run_sync, serve, threaded_queue_reader

    control: queue.Queue[object] = queue.Queue()
    control.put(protocol.ExecuteCells(cell_ids=["warm"], codes=["_warm = [i for i in range(3)]\n_warm"], order=["warm"]))
    control.put(protocol.Stop())
    args = KernelArgs(mode="run", console="thread-local", virtual_files="shared_memory")
    try:
        run_sync(serve(args, lambda note: None, control, queue.Queue(), threaded_queue_reader))
    except Exception as exc:  # a rehearsal only: app processes import what is missing
        os.write(2, f"amphikernel app template: rehearsal failed: {exc!r}\n".encode())
    _join_threads()


def _join_threads(timeout: float = 5.0) -> None:
    """Wait until this is the process's only thread (the rehearsal's helper threads end
    shortly after its teardown): a fork must not copy another thread's held locks."""
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    if threading.active_count() > 1:
        names = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        os.write(2, f"amphikernel app template: threads still running: {names}\n".encode())


def main() -> int:
    """Template entry point; its one argument is the descriptor of its Unix socket to the
    server (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import msgspec  # noqa: F401  (the imports every app process needs, done once here)
    import zmq  # noqa: F401

    import lifecycle.kernel_lifecycle  # noqa: F401
    import subprocess_host.apps.process
    import subprocess_host.thread_kernel  # noqa: F401

    _rehearse()
    sock = socket.socket(fileno=int(sys.argv[1]))
    os.write(1, READY)
    serve_template(sock)
    return 0


# -------------------------------------------------------------------- server side


class Zygote:
    """The server's handle on one template process (started in the background).

    Raises (from :meth:`wait_ready`):
        AppStartError: the template did not start.
    """

    def __init__(self, ready_timeout: float = 30.0) -> None:
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "subprocess_host.apps.zygote", str(theirs.fileno())], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, pass_fds=(theirs.fileno(),), env=env,
        )
        theirs.close()
        self._lock = threading.Lock()
        self._ids = iter(range(1, 1 << 62))
        self._replies: dict[int, dict[str, Any]] = {}
        self._exits: dict[int, int] = {}
        self._changed = threading.Condition()
        self._ready_timeout = ready_timeout
        self._ready: bool | None = None
        self._reader = threading.Thread(target=self._read, name="amphi-zygote-reader", daemon=True)

    def wait_ready(self) -> None:
        """Wait for the template's ready line (once)."""
        with self._lock:
            if self._ready is None:
                from subprocess_host.apps.provisioner import _read_ready

                try:
                    line = _read_ready(self.proc, self._ready_timeout)
                except AppStartError:
                    line = b""
                self._ready = line + b"\n" == READY
                if self._ready:
                    self._reader.start()
            if not self._ready:
                raise AppStartError("the app template process did not start")

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            with self._changed:
                if not data:
                    self._ready = False
                    self._changed.notify_all()
                    return
                message = json.loads(data)
                if "exit" in message:
                    self._exits[message["exit"]] = message["status"]
                else:
                    self._replies[message["id"]] = message
                self._changed.notify_all()

    def fork(self, fds: tuple[int, int], env: dict[str, str], timeout: float) -> int:
        """Fork an app process with ``fds`` as its stdin and stdout; returns its pid.

        Raises:
            AppStartError: the template is gone or did not answer.
        """
        self.wait_ready()
        request_id = next(self._ids)
        with self._lock:
            socket.send_fds(self.sock, [json.dumps({"id": request_id, "env": env}).encode()], list(fds))
        deadline = time.monotonic() + timeout
        with self._changed:
            while request_id not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self._ready is False:
                    raise AppStartError("the app template process did not fork")
                self._changed.wait(left)
            reply = self._replies.pop(request_id)
        if "pid" not in reply:
            raise AppStartError(f"the app template process refused: {reply.get('error')}")
        return int(reply["pid"])

    def status(self, pid: int) -> int | None:
        """The exit status of app process ``pid``, or ``None`` while it runs."""
        with self._changed:
            return self._exits.get(pid)

    def wait(self, pid: int, timeout: float | None) -> int:
        """Wait for app process ``pid`` to end.

        Raises:
            subprocess.TimeoutExpired: still running after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while pid not in self._exits:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired("app process", timeout or 0)
                if self._ready is False:  # the template is gone: it cannot report any more
                    if not wire.pid_alive(pid):
                        self._exits[pid] = -1
                        break
                    self._changed.wait(0.05 if left is None else min(left, 0.05))
                    continue
                self._changed.wait(left)
            return self._exits[pid]

    def close(self) -> None:
        """Stop the template (its running app processes are not affected) and reap it."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self._reader.is_alive():
            self._reader.join(5)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()



class ZygoteProvisioner(LocalProcessProvisioner):
    """An app process forked by the server's :class:`Zygote` (same interface and wire as
    :class:`~subprocess_host.apps.provisioner.LocalProvisioner`)."""

    def __init__(self, zygote: Zygote) -> None:
        self.zygote = zygote
        self._pid: int | None = None
        self._stdin: int | None = None
        self._endpoints: AppEndpoints | None = None

    def launch(self, spec: AppSpec) -> AppEndpoints:
        import msgspec

        from subprocess_host.apps.provisioner import _ready_from_fd

        if spec.python is not None:
            raise AppStartError("the template process runs this interpreter only; use LocalProvisioner for python=")
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            self._pid = self.zygote.fork((in_r, out_w), dict(spec.env), spec.ready_timeout)
        except BaseException:
            for fd in (in_w, out_r):
                os.close(fd)
            raise
        finally:
            os.close(in_r)
            os.close(out_w)
        self._stdin = in_w
        try:
            os.write(in_w, msgspec.json.encode(spec.launch_args(parent_pid=os.getpid())) + b"\n")
            self._endpoints = _ready_from_fd(out_r, spec.ready_timeout, spec.name, self._abort)
        finally:
            os.close(out_r)
        return self._endpoints

    def poll(self) -> int | None:
        return None if self._pid is None else self.zygote.status(self._pid)

    def send_signal(self, signum: int) -> None:
        self._signal_pid(signum)

    def wait(self, timeout: float | None = None) -> int:
        assert self._pid is not None, "launch() first"
        status = self.zygote.wait(self._pid, timeout)
        if self._stdin is not None:
            os.close(self._stdin)
            self._stdin = None
        return status

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> AppProvisioner:
        """Re-attach by pid (the re-attaching server did not fork it): a LocalProvisioner."""
        from subprocess_host.apps.provisioner import LocalProvisioner

        return LocalProvisioner.from_info(info)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
