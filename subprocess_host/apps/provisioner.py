"""Where app processes run: :class:`AppProvisioner` and the default :class:`LocalProvisioner`.

The interface is shaped like ``subprocess.Popen`` and jupyter_client's kernel provisioner:
``launch(spec) -> AppEndpoints``, ``poll``, ``send_signal``, ``terminate``, ``kill``,
``wait``, ``info`` / ``from_info`` (so another server instance could re-attach to a running
app process).  The pool and the sessions only talk to this interface; a cluster provisioner
(Ray) implements the same methods.

:class:`LocalProvisioner` starts ``python -m subprocess_host.apps.process`` with
``subprocess.Popen`` (this interpreter, or the spec's ``python``, e.g. the notebook's own
venv), writes the launch arguments as one JSON line on its stdin (kept open: its EOF tells the
app process the server is gone), and reads the ``APP_READY`` line from its stdout.
"""

from __future__ import annotations

import abc
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from lifecycle.protocol import PROTOCOL_VERSION
from subprocess_host.apps import wire
from subprocess_host.client import with_source_root


class AppStartError(RuntimeError):
    """An app process did not become ready (message says why: exit status, stderr tail,
    timeout, protocol mismatch)."""


@dataclass(frozen=True)
class AppSpec:
    """What to launch.

    Attributes:
        name: the app's name (log lines).
        notebook: the notebook file.
        server_public_key: the server's CURVE public key (Z85 text).
        python: interpreter to run the app process with (``None``: this one).
        semantics: ``"script"`` or ``"strict"``.
        ready_timeout: seconds to wait for the ready line.
        env: extra environment variables.
        detached: the app process is shared by several server instances and outlives the
            one that launched it (see :mod:`subprocess_host.apps.directory`).
        grace: seconds a session without an attached instance is kept.
        registry_entry: the directory entry file the app removes when it exits.
        log_file: where a detached app's stderr goes (``None``: the launcher's).
    """

    name: str
    notebook: Path
    server_public_key: str
    python: str | None = None
    semantics: str = "script"
    ready_timeout: float = 30.0
    env: dict[str, str] = field(default_factory=dict)
    detached: bool = False
    grace: float = 60.0
    registry_entry: str = ""
    log_file: str | None = None

    def launch_args(self, *, parent_pid: int | None, host: str = "127.0.0.1") -> wire.AppLaunchArgs:
        """The JSON line written on the app process's stdin for this spec.

        Args:
            parent_pid: the launcher's pid, which the app process watches (``None``: the app
                does not end with its launcher; a detached app uses its grace period).
            host: the interface the app process binds (loopback unless it runs on a
                cluster node).

        Raises:
            msgspec.ValidationError: ``semantics`` is neither ``"script"`` nor ``"strict"``
                (when the line is decoded by the app process).
        """
        return wire.AppLaunchArgs(
            notebook=str(Path(self.notebook).resolve()), server_public_key=self.server_public_key, host=host,
            semantics=self.semantics,  # type: ignore[arg-type]
            parent_pid=parent_pid, name=self.name, detached=self.detached, grace=self.grace,
            registry_entry=self.registry_entry,
        )


@dataclass(frozen=True)
class AppEndpoints:
    """How to reach a launched app process.

    Attributes:
        pid: its process id (on its host).
        public_key: its CURVE server public key (Z85 text).
        endpoints: socket name -> ZeroMQ endpoint (see :mod:`subprocess_host.apps.wire`).
        protocol: its protocol version.
        python: its interpreter version.
    """

    pid: int
    public_key: str
    endpoints: dict[str, str]
    protocol: int
    python: str


class AppProvisioner(abc.ABC):
    """Places one app process (see the module docstring)."""

    _endpoints: AppEndpoints | None = None

    @abc.abstractmethod
    def launch(self, spec: AppSpec) -> AppEndpoints:
        """Start the app process and wait for its ready line (blocking: call it in a worker
        thread).

        Raises:
            AppStartError: it exited, timed out or announced another protocol version.
        """

    @abc.abstractmethod
    def poll(self) -> int | None:
        """``None`` while it runs, else its exit status (negative: killed by that signal)."""

    @abc.abstractmethod
    def send_signal(self, signum: int) -> None:
        """Send a signal (no-op once it has exited)."""

    def terminate(self) -> None:
        """SIGTERM."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)

    def _abort(self) -> int | None:
        """Kill a process whose start failed and reap it (``None`` if it outlives 5 s)."""
        self.kill()
        try:
            return self.wait(5)
        except subprocess.TimeoutExpired:
            return None

    @abc.abstractmethod
    def wait(self, timeout: float | None = None) -> int:
        """Wait for it to exit and reap it; returns the exit status.

        Raises:
            subprocess.TimeoutExpired: still running after ``timeout`` seconds.
        """

    @abc.abstractmethod
    def info(self) -> dict[str, Any]:
        """JSON-serialisable data from which :meth:`from_info` re-attaches."""

    @classmethod
    @abc.abstractmethod
    def from_info(cls, info: dict[str, Any]) -> AppProvisioner:
        """A provisioner attached to the app process ``info`` describes."""

    @property
    def endpoints(self) -> AppEndpoints | None:
        """The endpoints once launched (``None`` before)."""
        return self._endpoints


class LocalProcessProvisioner(AppProvisioner):
    """An app process on this machine, known by its pid: what :class:`LocalProvisioner` and
    the zygote's provisioner share (signals by pid, the ``"local"`` form of :meth:`info`)."""

    _pid: int | None = None

    @property
    def pid(self) -> int | None:
        """Its process id (``None`` before :meth:`launch`)."""
        return self._pid

    def _signal_pid(self, signum: int) -> None:
        """``os.kill`` it with ``signum`` while :meth:`poll` says it runs."""
        if self._pid is not None and self.poll() is None:
            try:
                os.kill(self._pid, signum)
            except ProcessLookupError:
                pass

    def info(self) -> dict[str, Any]:
        ep = self._endpoints
        return {"kind": "local", "pid": self._pid,
                "endpoints": None if ep is None else {"pid": ep.pid, "public_key": ep.public_key,
                                                      "endpoints": ep.endpoints, "protocol": ep.protocol,
                                                      "python": ep.python}}


def _read_line(fd: int, timeout: float) -> bytes:
    """The first line read from ``fd`` (without its newline; what came before EOF if none),
    or raise :class:`AppStartError` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AppStartError(f"the app process printed no ready line in {timeout:g} s")
        readable, _, _ = select.select([fd], [], [], min(left, 0.5))
        if readable:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    return data.partition(b"\n")[0]


def _read_ready(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    """The first line of ``proc``'s stdout (see :func:`_read_line`)."""
    assert proc.stdout is not None
    return _read_line(proc.stdout.fileno(), timeout)


def _ready_from_fd(fd: int, timeout: float, name: str, abort: Callable[[], int | None]) -> AppEndpoints:
    """Read and check an app process's ready line from ``fd``; ``abort()`` (kill and reap,
    returning the exit status) on any failure.

    Raises:
        AppStartError: no ready line, another first line, or another protocol version.
    """
    try:
        line = _read_line(fd, timeout)
    except (AppStartError, OSError) as exc:
        abort()
        raise AppStartError(f"app {name!r}: {exc}") from None
    ready = wire.parse_ready(line)
    if ready is None:
        status = abort()
        raise AppStartError(
            f"app {name!r}: the app process exited with status {status} before it was ready"
            if not line else f"app {name!r}: unexpected first line {line[:200]!r}"
        )
    if ready.protocol != PROTOCOL_VERSION:
        abort()
        raise AppStartError(f"app {name!r} speaks protocol {ready.protocol}, this server {PROTOCOL_VERSION}")
    return AppEndpoints(pid=ready.pid, public_key=ready.public_key, endpoints=dict(ready.endpoints),
                        protocol=ready.protocol, python=ready.python)


class LocalProvisioner(LocalProcessProvisioner):
    """An app process on this machine, started with ``subprocess.Popen`` (see the module
    docstring).  Its stderr goes to the server's stderr unless ``stderr`` is given (a file
    object or ``subprocess.PIPE``)."""

    def __init__(self, stderr: Any = None) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._returncode: int | None = None
        self._endpoints: AppEndpoints | None = None
        self._stderr = stderr

    def launch(self, spec: AppSpec) -> AppEndpoints:
        args = spec.launch_args(parent_pid=None if spec.detached else os.getpid())
        # The app process imports this package: from the checkout when we run from one (never
        # an installed copy: its compiled dependencies belong to this interpreter).
        env = with_source_root({**os.environ, **spec.env})
        stderr = self._stderr
        log = open(spec.log_file, "ab") if spec.detached and spec.log_file else None  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                [spec.python or sys.executable, "-m", "subprocess_host.apps.process"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log if log is not None else stderr,
                cwd=str(Path(spec.notebook).resolve().parent), env=env, close_fds=True,
                start_new_session=spec.detached,  # a detached app outlives its launcher's group
            )
        finally:
            if log is not None:
                log.close()
        self._pid = self.proc.pid
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(msgspec.json.encode(args) + b"\n")
            self.proc.stdin.flush()
        except OSError as exc:
            self._abort()
            raise AppStartError(f"app {spec.name!r}: {exc}") from None
        self._endpoints = _ready_from_fd(self.proc.stdout.fileno(), spec.ready_timeout, spec.name, self._abort)
        if spec.detached:  # no pipe ties a shared app to this launcher
            for pipe in (self.proc.stdin, self.proc.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
        return self._endpoints

    def poll(self) -> int | None:
        if self.proc is not None:
            return self.proc.poll()
        if self._returncode is None and self._pid is not None and not wire.pid_alive(self._pid):
            self._returncode = -1  # re-attached: not our child, status unknown
        return self._returncode

    def send_signal(self, signum: int) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signum)
        else:
            self._signal_pid(signum)

    def wait(self, timeout: float | None = None) -> int:
        if self.proc is not None:
            status = self.proc.wait(timeout)
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:
                        pass
            return status
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("app process", timeout or 0)
            time.sleep(0.02)
        return self._returncode if self._returncode is not None else -1

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> LocalProvisioner:
        """Re-attach (another server instance on this machine): signals and liveness by pid;
        the exit status of a process that is not our child is reported as ``-1``."""
        provisioner = cls()
        provisioner._pid = info.get("pid")
        ep = info.get("endpoints")
        if ep:
            provisioner._endpoints = AppEndpoints(**ep)
        return provisioner

