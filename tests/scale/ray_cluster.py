"""A real multi-node Ray cluster on this machine for the scale tests: ``ray.cluster_utils.Cluster``
with a head node (no CPUs: no app lands there) and worker nodes, every node on 127.0.0.1.

Kept small for a 2-core machine: 80 MiB object stores (Ray's minimum is 75), no dashboard, no prestarted workers,
4 logical CPUs per worker node (an app's actor asks for 1), and fast node-failure detection
(health checks every second, dead after 3 misses) so a removed node's apps restart within
seconds.  ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes Ray keep the loopback address instead
of swapping in the machine's LAN address when a driver connects to ``127.0.0.1``.

:func:`leftovers` lists what the cluster could leave behind (its processes, our app processes,
``/dev/shm`` segments): the clean-end checks assert it is empty after :meth:`RayCluster.shutdown`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import time
from pathlib import Path
from typing import Any

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before Ray is imported: loopback stays loopback
os.environ.setdefault("RAY_enable_worker_prestart", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray
from ray.cluster_utils import Cluster

ray._private.ray_constants.ENABLE_RAY_CLUSTER = False  # in case Ray was imported before this module

NAMESPACE = "amphi-scale-tests"
OBJECT_STORE = 80 * 1024 * 1024
WORKER_CPUS = 4
SYSTEM_CONFIG = {"health_check_initial_delay_ms": 1000, "health_check_period_ms": 1000,
                 "health_check_timeout_ms": 2000, "health_check_failure_threshold": 3}


class RayCluster:
    """A head and ``workers`` worker nodes (see the module docstring)."""

    def __init__(self, workers: int = 2) -> None:
        self.session_dir: str | None = None
        self.cluster = Cluster(initialize_head=False)
        _retrying(lambda: self.cluster.add_node(
            num_cpus=0, include_dashboard=False, object_store_memory=OBJECT_STORE, node_ip_address="127.0.0.1",
            _system_config=SYSTEM_CONFIG))
        self.workers: list[Any] = []
        for _ in range(workers):
            self.add_worker()
        ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
        self.cluster.wait_for_nodes()
        self.session_dir = self.cluster.head_node.get_session_dir_path()

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def add_worker(self) -> Any:
        """Start one more worker node; returns it (``node.node_id`` is its Ray node id)."""
        node = _retrying(lambda: self.cluster.add_node(num_cpus=WORKER_CPUS, object_store_memory=OBJECT_STORE,
                                                       node_ip_address="127.0.0.1"))
        self.workers.append(node)
        return node

    def remove_worker(self, node: Any) -> None:
        """Kill a worker node's processes at once (no graceful drain: a lost machine)."""
        self.cluster.remove_node(node, allow_graceful=False)
        self.workers.remove(node)

    def alive_node_ids(self) -> set[str]:
        return {n["NodeID"] for n in ray.nodes() if n.get("Alive")}

    def processes(self) -> list[int]:
        """Pids of processes whose command line names this cluster's session directory."""
        if not self.session_dir:
            return []
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                    if self.session_dir.encode() in cmdline and _alive(int(entry)):
                        found.append(int(entry))
        return found

    def shutdown(self) -> None:
        """Disconnect, stop every node, then SIGKILL whatever of the session is still there."""
        with contextlib.suppress(Exception):
            ray.shutdown()
        with contextlib.suppress(Exception):
            self.cluster.shutdown()
        deadline = time.monotonic() + 20
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _children() -> set[int]:
    """Pids of this process's children."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_bytes()
                if int(stat.rpartition(b")")[2].split()[1]) == os.getpid():
                    found.add(int(entry))
    return found


def _retrying(start: Any, attempts: int = 3) -> Any:
    """``start()`` (a node's start), again after killing what a failed attempt started: Ray
    gives a raylet 30 s to register, which a loaded 2-core machine sometimes misses."""
    for attempt in range(attempts):
        before = _children()
        try:
            return start()
        except Exception:
            for pid in _children() - before:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _alive(pid: int) -> bool:
    """Running (not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat.rpartition(b")")[2].split()[:1] != [b"Z"]


def app_processes(pids: set[int]) -> list[int]:
    """Those of ``pids`` still running."""
    return [p for p in pids if _alive(p)]


def shm_segments(pids: set[int]) -> list[str]:
    """``/dev/shm`` segments of our app processes ``pids`` (``amphi_<pid hex>_*``)."""
    return [p for pid in pids for p in glob.glob(f"/dev/shm/amphi_{pid:x}_*")]


def leftovers(cluster: RayCluster, app_pids: set[int]) -> dict[str, list[Any]]:
    """What is left after the cluster was shut down (every list should be empty)."""
    return {"ray processes": cluster.processes(), "app processes": app_processes(app_pids),
            "shm segments": shm_segments(app_pids)}
