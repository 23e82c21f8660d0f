"""What runs inside the Ray cluster: :class:`AppHost`, one app process per detached named actor.

Made into Ray actors by :mod:`subprocess_host.apps.ray_provisioner` (``ray.remote`` is
applied there, lazily: importing this module does not import Ray).  A Ray worker imports this
module by name, so amphikernel must be installed on every node (``amphikernel[ray]``, the
same version and Python as the server instances).

:class:`AppHost` *spawns* the existing app-process entry point (``python -m
subprocess_host.apps.process``) rather than running it inside the Ray worker: the app keeps
its own process (own ``sys.modules``, working directory, SIGINT ignored, thread-local console
proxies), exactly as with :class:`~subprocess_host.apps.provisioner.LocalProvisioner`.  The
app process is bound on the node's address (``ray.util.get_node_ip_address()``), its ZeroMQ
sockets CURVE servers accepting only the deployment's client key; every server instance
connects to it (sessions attach to instances, see :mod:`subprocess_host.apps.wire`).  It is
launched *detached*, as a shared app of :class:`~subprocess_host.apps.directory.LocalDirectory`
is: a session without a live instance ends after the grace period, and the app process exits
(status 0) once it has had no session and no instance heartbeat for that long, which ends the
actor too (an app whose notebook changed, under a new name, or that nobody reads any more
frees its node).  :meth:`AppHost.stop`, ``ray.kill`` and
:meth:`~subprocess_host.apps.ray_provisioner.RayDirectory.stop_all` end it at once.  When the
actor's worker dies without the app process (its node lost), the app process, unreachable by
then, idles out the same way.

The actor publishes the app's endpoints and CURVE public key (:meth:`AppHost.describe`), with
an *incarnation* token that changes on every restart, so a server instance tells "the process
I was linked to ended" from "still the same process".  When the app process ends:

* with status 0 (idle for its grace period, or a ``shutdown`` handshake): the actor
  kills itself without restart, so its name is free for the next launch;
* otherwise (crash, ``kill -9``): the actor's worker exits with status 1 and Ray restarts the
  actor (``max_restarts``), which launches a fresh app process, possibly on another node.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import msgspec


class AppHost:
    """One app process on a Ray node (see the module docstring).

    Args:
        launch: ``{"notebook": path (absolute, or relative to the actor's working directory:
            the uploaded ``working_dir``), "name": str, "server_public_key": Z85 text,
            "semantics": "script"|"strict", "grace": seconds, "python": interpreter or None,
            "ready_timeout": seconds, "env": {name: value}}``.

    Raises:
        subprocess_host.apps.provisioner.AppStartError: the app process did not become ready
            (the actor's creation fails; Ray does not restart a failed constructor).
    """

    def __init__(self, launch: dict[str, Any]) -> None:
        import ray

        from subprocess_host.apps.provisioner import AppSpec, _ready_from_fd
        from subprocess_host.client import with_source_root

        context = ray.get_runtime_context()
        self.node_id: str = context.get_node_id()
        self.host: str = ray.util.get_node_ip_address()
        self.incarnation = secrets.token_hex(8)
        self.stopping = False
        notebook = Path(launch["notebook"])
        if not notebook.is_absolute():
            notebook = Path.cwd() / notebook
        spec = AppSpec(name=launch.get("name", "app"), notebook=notebook, server_public_key=launch["server_public_key"],
                       semantics=launch.get("semantics", "script"), detached=True,
                       grace=float(launch.get("grace", 60.0)))
        args = spec.launch_args(parent_pid=None, host=self.host)
        env = with_source_root({**os.environ, **launch.get("env", {})})
        self.proc = subprocess.Popen(
            [launch.get("python") or sys.executable, "-m", "subprocess_host.apps.process"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(notebook.parent), env=env, close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(msgspec.json.encode(args) + b"\n")
        self.proc.stdin.flush()
        self.endpoints = _ready_from_fd(self.proc.stdout.fileno(), float(launch.get("ready_timeout", 30.0)),
                                        args.name, self._abort)
        self.pid = self.proc.pid
        self._handle = context.current_actor
        threading.Thread(target=self._watch, name="amphi-app-watch", daemon=True).start()

    def _abort(self) -> int | None:
        self.proc.kill()
        try:
            return self.proc.wait(5)
        except subprocess.TimeoutExpired:
            return None

    def _watch(self) -> None:
        """Wait for the app process; end or restart the actor (see the module docstring)."""
        import ray

        from subprocess_host.apps.pool import unlink_segments

        status = self.proc.wait()
        unlink_segments(self.pid)
        if status == 0 or self.stopping:
            with contextlib.suppress(Exception):
                ray.kill(self._handle, no_restart=True)
            return
        sys.stderr.write(f"amphi app host: app process {self.pid} ended with status {status}; restarting\n")
        sys.stderr.flush()
        os._exit(1)  # Ray restarts the actor: a fresh app process

    def describe(self) -> dict[str, Any]:
        """The app's endpoints and where it runs: ``{"incarnation", "node_id", "host", "pid",
        "public_key", "endpoints", "protocol", "python", "status"}`` (``status``: ``None``
        while the app process runs, else its exit status)."""
        ep = self.endpoints
        return {"incarnation": self.incarnation, "node_id": self.node_id, "host": self.host, "pid": ep.pid,
                "public_key": ep.public_key, "endpoints": dict(ep.endpoints), "protocol": ep.protocol,
                "python": ep.python, "status": self.proc.poll()}

    def signal(self, signum: int) -> bool:
        """Send ``signum`` to the app process; ``False`` if it has exited."""
        if self.proc.poll() is not None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signum)
        return True

    def stop(self, timeout: float = 3.0) -> int | None:
        """End the app process (SIGTERM, then SIGKILL after ``timeout`` seconds) without a
        restart of the actor; returns its exit status."""
        self.stopping = True
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


class KeyHolder:
    """The deployment's CURVE client key pair, made once, held by one detached named actor
    (every server instance connects to app processes with it)."""

    def __init__(self) -> None:
        import zmq

        public, secret = zmq.curve_keypair()
        self.public, self.secret = public.decode("ascii"), secret.decode("ascii")

    def keypair(self) -> tuple[str, str]:
        """``(public, secret)``, Z85 text."""
        return self.public, self.secret


__all__ = ["AppHost", "KeyHolder"]
