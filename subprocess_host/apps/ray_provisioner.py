"""App processes on a Ray cluster: :class:`RayProvisioner` and :class:`RayDirectory`.

Optional (``pip install amphikernel[ray]``, Ray pinned); Ray is imported only by this module
and :mod:`subprocess_host.apps.ray_actor`, and only when used.

Each app process is a *detached, named* Ray actor (:class:`~subprocess_host.apps.ray_actor.AppHost`)
in the deployment's namespace (default ``"amphikernel"``), named ``amphi-app-<key>`` where
``key`` is :func:`~subprocess_host.apps.directory.app_key` (the notebook's resolved path and
content hash): every server instance finds the same actor with ``ray.get_actor(name,
namespace=...)``, and a changed notebook gets a fresh one.  Ray is the registry: the set of
live apps and their endpoints is the set of named actors (:meth:`RayDirectory.entries`), not
a database of ours.  The actor is created with:

* ``runtime_env``: ``working_dir`` = the notebook's folder, uploaded to the cluster (so
  ``import utils`` beside the notebook works on any node; ``upload_working_dir=False`` when the
  nodes share the file system), ``env_vars`` = the spec's ``env``, and ``pip`` = the lines of
  ``<notebook stem>.requirements.txt`` beside the notebook when that file exists;
* ``max_restarts`` (default unlimited): when its node is lost or its app process crashes, Ray
  restarts the actor, on another node if needed; it launches a fresh app process;
* placement: ``"least-loaded"`` (default): a *soft* ``NodeAffinitySchedulingStrategy`` to the
  alive node, among those with the CPUs an app asks for (``num_cpus``, default 1 logical CPU),
  with the fewest logical CPUs in use now (Ray's per-node resource view: every app's actor
  holds ``num_cpus``; ties broken by the app key), so a node added to the cluster takes the
  next apps launched; soft: Ray places the actor elsewhere when that node cannot take it, and a
  restart after a node loss goes to any node.  Launches from one process are placed one at a
  time; launches from several instances at the same instant may pick the same node (Ray's
  view lags by a fraction of a second).  ``"spread"``: Ray's ``SPREAD`` strategy.

The app process binds its ZeroMQ sockets on its node's address, and publishes them with its
CURVE public key through the actor (``describe``).  :class:`RayDirectory` also holds the
deployment's CURVE *client* key pair in one more detached actor (``amphi-keys``), so every
server instance presents the one key the app processes accept.

:meth:`RayProvisioner.poll` never blocks: it keeps one ``describe`` call in flight and looks
at it with ``ray.wait(timeout=0)``; the process it was linked to has ended when the actor is
dead or unreachable or answers with another incarnation (it restarted), or reports an exit
status.  The pool then tells every reader of that app "this app restarted" and starts fresh
sessions, in the restarted actor.

Known limits: virtual files (``/@file/``) are read by the server instance from the app
process's shared memory, so they are served only when instance and app share a machine; the
server instances and the nodes need the same amphikernel and Python versions.
"""

from __future__ import annotations

import contextlib
import hashlib
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from subprocess_host.apps.directory import AppDirectory, app_key
from subprocess_host.apps.provisioner import AppEndpoints, AppProvisioner, AppSpec, AppStartError
from subprocess_host.apps.wire import PROTOCOL_VERSION

DEFAULT_NAMESPACE = "amphikernel"
APP_PREFIX = "amphi-app-"
KEYS_ACTOR = "amphi-keys"
POLL_PERIOD = 0.5
"""Seconds between liveness checks of an app's actor."""

_connect_lock = threading.Lock()
_place_lock = threading.Lock()
_classes: dict[str, Any] = {}


def connect(address: str | None = None, namespace: str = DEFAULT_NAMESPACE) -> None:
    """Connect this process to the Ray cluster at ``address`` (``host:port`` of its head, or
    ``"auto"``/``None``: ``RAY_ADDRESS`` or the local one) once; later calls do nothing.

    Raises:
        ImportError: Ray is not installed (``pip install amphikernel[ray]``).
        ConnectionError: no cluster there.
    """
    import ray

    with _connect_lock:
        if not ray.is_initialized():
            ray.init(address=address or "auto", namespace=namespace, log_to_driver=False,
                     configure_logging=False)


def _remote(name: str) -> Any:
    """The Ray actor class for :mod:`~subprocess_host.apps.ray_actor`'s class ``name``."""
    if name not in _classes:
        import ray

        from subprocess_host.apps import ray_actor

        _classes[name] = ray.remote(getattr(ray_actor, name))
    return _classes[name]


def actor_name(key: str) -> str:
    """The Ray actor name of app ``key``."""
    return APP_PREFIX + key


def _upload(folder: Path) -> str:
    """Upload ``folder`` to the cluster once (content-addressed) and return its ``gcs://`` URI
    (Ray's own working-dir packaging; ``.gitignore``/``.rayignore`` honoured)."""
    from ray._private.runtime_env.working_dir import upload_working_dir_if_needed

    with tempfile.TemporaryDirectory(prefix="amphi-ray-") as scratch:
        env = upload_working_dir_if_needed({"working_dir": str(folder)}, True, scratch_dir=scratch)
    return str(env["working_dir"])


def _is_gone(exc: BaseException) -> bool:
    """Whether ``exc`` from an actor call means that actor (its current process) is gone."""
    from ray.exceptions import ActorUnavailableError, RayActorError

    return isinstance(exc, (RayActorError, ActorUnavailableError))


class RayProvisioner(AppProvisioner):
    """An app process in a detached named Ray actor (see the module docstring).

    Args:
        address: the cluster (``host:port`` of the head's GCS; ``None``: ``RAY_ADDRESS`` or
            ``"auto"``).
        namespace: the Ray namespace of the deployment's actors.
        num_cpus: logical CPUs an app's actor asks for.
        max_restarts: restarts Ray makes of an app's actor (-1: unlimited).
        placement: ``"least-loaded"`` or ``"spread"``.
        upload_working_dir: upload the notebook's folder as the actor's ``working_dir``
            (``False``: the nodes see the notebook at the same path).
    """

    def __init__(self, address: str | None = None, namespace: str = DEFAULT_NAMESPACE, *, num_cpus: float = 1.0,
                 max_restarts: int = -1, placement: str = "least-loaded", upload_working_dir: bool = True) -> None:
        if placement not in ("least-loaded", "spread"):
            raise ValueError(f"unknown placement {placement!r} (least-loaded or spread)")
        self.address, self.namespace = address, namespace
        self.num_cpus, self.max_restarts, self.placement = num_cpus, max_restarts, placement
        self.upload_working_dir = upload_working_dir
        self.name = ""
        self.actor: Any = None
        self.description: dict[str, Any] | None = None
        self._endpoints: AppEndpoints | None = None
        self._returncode: int | None = None
        self._probe: Any = None
        self._probe_at = 0.0
        self.error = ""
        """Why the actor counted as gone (the exception from its last call)."""

    def _options(self) -> dict[str, Any]:
        return {"address": self.address, "namespace": self.namespace, "num_cpus": self.num_cpus,
                "max_restarts": self.max_restarts, "placement": self.placement,
                "upload_working_dir": self.upload_working_dir}

    # ------------------------------------------------------------------ launch
    @property
    def node_id(self) -> str | None:
        """The Ray node the app process runs on (as of the last description)."""
        return None if self.description is None else self.description["node_id"]

    def launch(self, spec: AppSpec) -> AppEndpoints:
        return self.launch_key(app_key(spec.notebook), spec)

    def launch_key(self, key: str, spec: AppSpec) -> AppEndpoints:
        """Find app ``key``'s actor or create it from ``spec``, and wait until its app process
        is ready (blocking: call it in a worker thread).

        Raises:
            AppStartError: the actor or its app process did not start, or it speaks another
                protocol version.
        """
        import ray

        connect(self.address, self.namespace)
        self.name = actor_name(key)
        deadline = time.monotonic() + spec.ready_timeout
        while True:
            actor = self._get_or_create(key, spec)
            try:
                description = ray.get(actor.describe.remote(), timeout=max(1.0, deadline - time.monotonic()))
            except ray.exceptions.GetTimeoutError:
                raise AppStartError(f"app {spec.name!r}: its Ray actor was not ready in {spec.ready_timeout:g} s") from None
            except Exception as exc:  # the actor's creation failed, or it is being killed
                if not _is_gone(exc) or time.monotonic() > deadline:
                    raise AppStartError(f"app {spec.name!r}: {exc}") from None
                cause = str(exc)
                if "AppStartError" in cause:
                    raise AppStartError(f"app {spec.name!r}: {cause.splitlines()[-1]}") from None
                time.sleep(0.2)  # an actor ending itself: its name is free again shortly
                continue
            break
        if description["protocol"] != PROTOCOL_VERSION:
            raise AppStartError(f"app {spec.name!r} speaks protocol {description['protocol']}, "
                                f"this server {PROTOCOL_VERSION}")
        self.actor = actor
        self._describe(description)
        return self._endpoints  # type: ignore[return-value]

    def _describe(self, description: dict[str, Any]) -> None:
        self.description = description
        self._endpoints = AppEndpoints(pid=description["pid"], public_key=description["public_key"],
                                       endpoints=dict(description["endpoints"]), protocol=description["protocol"],
                                       python=description["python"])

    def _get_or_create(self, key: str, spec: AppSpec) -> Any:
        import ray

        try:
            return ray.get_actor(self.name, namespace=self.namespace)
        except ValueError:
            pass
        notebook = Path(spec.notebook).resolve()
        runtime_env: dict[str, Any] = {"env_vars": dict(spec.env)}
        launch_path = str(notebook)
        if self.upload_working_dir:
            runtime_env["working_dir"] = _upload(notebook.parent)
            launch_path = notebook.name
        requirements = notebook.with_name(f"{notebook.stem}.requirements.txt")
        if requirements.is_file():
            runtime_env["pip"] = [line.strip() for line in requirements.read_text(encoding="utf-8").splitlines()
                                  if line.strip() and not line.lstrip().startswith("#")]
        launch = {"notebook": launch_path, "name": spec.name, "server_public_key": spec.server_public_key,
                  "semantics": spec.semantics, "grace": spec.grace, "python": spec.python,
                  "ready_timeout": spec.ready_timeout, "env": dict(spec.env)}
        with _place_lock:  # one placement at a time: each sees the CPUs the previous one took
            actor = _remote("AppHost").options(
                name=self.name, namespace=self.namespace, lifetime="detached", get_if_exists=True,
                max_restarts=self.max_restarts, max_concurrency=4, num_cpus=self.num_cpus,
                runtime_env=runtime_env, scheduling_strategy=self._strategy(key),
            ).remote(launch)
            with contextlib.suppress(Exception):  # placed (or failed) before the next decision
                ray.wait([actor.__ray_ready__.remote()], timeout=1.0)
        return actor

    def _strategy(self, key: str) -> Any:
        """Where a new app's actor goes (see the module docstring)."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        if self.placement == "spread":
            return "SPREAD"
        from ray._private.state import available_resources_per_node

        available = available_resources_per_node()
        load = {n["NodeID"]: n["Resources"]["CPU"] - available.get(n["NodeID"], {}).get("CPU", 0.0)
                for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= self.num_cpus}
        if not load:
            return "DEFAULT"
        tie = hashlib.sha256(key.encode()).hexdigest()
        node = min(load, key=lambda n: (load[n], hashlib.sha256((tie + n).encode()).hexdigest()))
        return NodeAffinitySchedulingStrategy(node_id=node, soft=True)

    # ------------------------------------------------------------- lifecycle
    def poll(self) -> int | None:
        if self._returncode is not None or self.actor is None:
            return self._returncode
        import ray

        try:
            if self._probe is None:
                if time.monotonic() - self._probe_at < POLL_PERIOD:
                    return None
                self._probe, self._probe_at = self.actor.describe.remote(), time.monotonic()
            ready, _ = ray.wait([self._probe], timeout=0)
            if not ready:
                return None
            probe, self._probe = self._probe, None
            description = ray.get(probe)
        except Exception as exc:  # dead or unreachable actor, or no Ray any more
            self._returncode = -1
            self.error = repr(exc)
            return self._returncode
        assert self.description is not None
        if description["incarnation"] != self.description["incarnation"]:
            self._returncode = -1  # the actor restarted: the process we knew is gone
        elif description["status"] is not None:
            self._returncode = int(description["status"])
        return self._returncode

    def send_signal(self, signum: int) -> None:
        """SIGTERM and SIGKILL end the app for good (the actor is killed, no restart);
        other signals go to the app process."""
        if self.actor is None or self.poll() is not None:
            return
        import ray

        if signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(Exception):
                ray.kill(self.actor, no_restart=True)
            return
        with contextlib.suppress(Exception):
            ray.get(self.actor.signal.remote(signum), timeout=10)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("app actor " + self.name, timeout or 0)
            time.sleep(0.05)
        return self._returncode if self._returncode is not None else -1

    def info(self) -> dict[str, Any]:
        return {"kind": "ray", "actor": self.name, **self._options(), "description": self.description}

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> RayProvisioner:
        """Re-attach to the actor ``info`` names (its endpoints as described then; a restart
        since shows in :meth:`poll`).

        Raises:
            ValueError: no such actor now.
        """
        import ray

        options = {k: info[k] for k in ("address", "namespace", "num_cpus", "max_restarts", "placement",
                                        "upload_working_dir") if k in info}
        provisioner = cls(**options)
        connect(provisioner.address, provisioner.namespace)
        provisioner.name = info["actor"]
        provisioner.actor = ray.get_actor(provisioner.name, namespace=provisioner.namespace)
        if info.get("description"):
            provisioner._describe(info["description"])
        return provisioner


def _describe_all(namespace: str, timeout: float = 10.0) -> dict[str, dict[str, Any]]:
    """Actor name -> ``describe()`` of every live app actor of ``namespace`` (actors that do
    not answer in ``timeout`` seconds, restarting or dying, are left out)."""
    import ray

    names = [n for n in ray.util.list_named_actors(all_namespaces=False) if n.startswith(APP_PREFIX)]
    if ray.get_runtime_context().namespace != namespace:
        names = [e["name"] for e in ray.util.list_named_actors(all_namespaces=True)
                 if e["namespace"] == namespace and e["name"].startswith(APP_PREFIX)]
    probes = {}
    for name in names:
        with contextlib.suppress(ValueError):
            probes[name] = ray.get_actor(name, namespace=namespace).describe.remote()
    if not probes:
        return {}
    ready, _ = ray.wait(list(probes.values()), num_returns=len(probes), timeout=timeout)
    found = {}
    for name, ref in probes.items():
        if ref in ready:
            with contextlib.suppress(Exception):
                found[name] = ray.get(ref)
    return found


class RayDirectory(AppDirectory):
    """The apps of a deployment on a Ray cluster (:class:`~subprocess_host.apps.directory.AppDirectory`
    for server instances that share them; see the module docstring).

    Args:
        address, namespace and the other options: as :class:`RayProvisioner`.
    """

    def __init__(self, address: str | None = None, namespace: str = DEFAULT_NAMESPACE, **options: Any) -> None:
        self.address, self.namespace = address, namespace
        self.options = options
        RayProvisioner(address, namespace, **options)  # validates the options

    def client_keypair(self) -> tuple[bytes, bytes]:
        import ray

        connect(self.address, self.namespace)
        holder = _remote("KeyHolder").options(name=KEYS_ACTOR, namespace=self.namespace, lifetime="detached",
                                              get_if_exists=True, num_cpus=0, max_restarts=0).remote()
        public, secret = ray.get(holder.keypair.remote(), timeout=60)
        return public.encode("ascii"), secret.encode("ascii")

    def get_or_launch(self, key: str, spec: AppSpec) -> AppProvisioner:
        provisioner = RayProvisioner(self.address, self.namespace, **self.options)
        provisioner.launch_key(key, spec)
        return provisioner

    def forget(self, key: str, pid: int) -> None:
        """Nothing to do: Ray restarts a failed app's actor itself, and an actor whose app
        ended cleanly frees its name."""

    def entries(self) -> dict[str, dict[str, Any]]:
        """App key -> ``{"kind": "ray", "actor", "namespace", "description"}`` for every live
        app actor (``description``: :meth:`~subprocess_host.apps.ray_actor.AppHost.describe`)."""
        connect(self.address, self.namespace)
        return {name[len(APP_PREFIX):]: {"kind": "ray", "actor": name, "namespace": self.namespace,
                                         "description": description}
                for name, description in _describe_all(self.namespace).items()}

    def stop_all(self, timeout: float = 10.0) -> int:
        """Kill every app actor of the deployment and its key holder (no restart); returns
        how many apps were stopped."""
        import ray

        connect(self.address, self.namespace)
        names = [e["name"] for e in ray.util.list_named_actors(all_namespaces=True)
                 if e["namespace"] == self.namespace and (e["name"].startswith(APP_PREFIX) or e["name"] == KEYS_ACTOR)]
        stopped = 0
        for name in names:
            with contextlib.suppress(ValueError):
                actor = ray.get_actor(name, namespace=self.namespace)
                if name.startswith(APP_PREFIX):
                    with contextlib.suppress(Exception):
                        ray.get(actor.stop.remote(), timeout=timeout)
                    stopped += 1
                ray.kill(actor, no_restart=True)
        return stopped


__all__ = ["DEFAULT_NAMESPACE", "RayDirectory", "RayProvisioner", "actor_name", "connect"]
