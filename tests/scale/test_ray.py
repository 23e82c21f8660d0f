"""App processes on a real Ray cluster (a head and 2 worker nodes on 127.0.0.1), served by 3
server instances (``amphi run DIR/ --provisioner ray``) behind a real HAProxy.

One cluster and one deployment for the whole module (Ray starts slowly); the tests run in
order: the apps as detached named actors shared by the instances, the loss of a worker node,
the crash of an app process, a node added (scale-out), the clean end.  Placement is the provisioner's default,
``least-loaded`` (a soft node affinity to the alive node running the fewest apps).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import zmq

from lifecycle.notebook import Cell, Notebook, write_notebook
from subprocess_host.apps import wire
from subprocess_host.apps.directory import app_key
from subprocess_host.apps.provisioner import AppSpec
from subprocess_host.apps.ray_provisioner import RayDirectory, RayProvisioner, actor_name
from subprocess_host.apps.wire import pid_alive

from .conftest import APPS, GRACE
from .haproxy import UI_MIME, Deployment, Reader, reap
from .ray_cluster import NAMESPACE, RayCluster, leftovers
from .test_haproxy import Page

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(600)]

READERS_PER_APP = 2
RESTART_DEADLINE = 30.0
"""Seconds within which a lost node's apps must run again on another node (the issue's bound)."""


@pytest.fixture(scope="module")
def cluster() -> Any:
    started = RayCluster(workers=2)
    try:
        yield started
    finally:
        started.shutdown()


@pytest.fixture(scope="module")
def instance_args(cluster: RayCluster) -> list[str]:
    """Every instance of the deployment places its apps on the cluster."""
    return ["--provisioner", "ray", "--ray-address", cluster.address, "--ray-namespace", NAMESPACE]


@pytest.fixture(scope="module")
def directory(cluster: RayCluster) -> RayDirectory:
    return RayDirectory(cluster.address, NAMESPACE)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pages(deployment: Deployment, directory: RayDirectory, apps_dir: Path) -> Any:
    # The apps are launched one after the other first (as an operator warming them up would), so
    # that least-loaded placement spreads them over both workers deterministically; the
    # instances then find them by name.
    public, _ = await asyncio.to_thread(directory.client_keypair)
    for app in APPS:
        notebook = apps_dir / f"{app}.py"
        await asyncio.to_thread(directory.get_or_launch, app_key(notebook),
                                AppSpec(name=f"/{app}", notebook=notebook, server_public_key=public.decode(),
                                        ready_timeout=120, grace=GRACE))
    pages = [Page(Reader(deployment.base, app), 100 * (n + 1))
             for n, app in enumerate(a for a in APPS for _ in range(READERS_PER_APP))]
    async with httpx.AsyncClient(timeout=120) as client:
        await asyncio.gather(*(p.open(client) for p in pages))
    yield pages
    await asyncio.gather(*(p.reader.close() for p in pages), return_exceptions=True)


SEEN_PIDS: set[int] = set()
"""Every app process pid the module saw (the clean end checks that none is left)."""


def _by_app(directory: RayDirectory, apps_dir: Path) -> dict[str, dict[str, Any]]:
    """App name -> its actor's description (only apps of ``apps_dir``)."""
    keys = {app_key(apps_dir / f"{app}.py"): app for app in APPS}
    found = {keys[k]: e["description"] for k, e in directory.entries().items() if k in keys}
    SEEN_PIDS.update(d["pid"] for d in found.values())
    return found


def _sessions(directory: RayDirectory, description: dict[str, Any]) -> list[str]:
    """The sessions an app process holds (``ping`` over its CURVE ``mgmt`` socket)."""
    public, secret = directory.client_keypair()
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.curve_serverkey = description["public_key"].encode("ascii")
        sock.curve_publickey, sock.curve_secretkey = public, secret
        sock.connect(description["endpoints"]["mgmt"])
        sock.send(wire.encode_mgmt(wire.Ping(request_id=1)))
        assert sock.poll(20_000), "the app process does not answer"
        status = wire.decode_mgmt_message(sock.recv())
        sock.close(0)
        return list(status.sessions)
    finally:
        ctx.term()


async def test_options() -> None:
    """``provisioner="ray"`` on the builder (what ``--provisioner ray`` passes) makes a Ray
    directory without connecting yet; bad values are refused."""
    from subprocess_host import create_asgi_app

    builder = create_asgi_app(None, provisioner="ray", ray_address="127.0.0.1:1", ray_namespace="ns",
                              app_directory="/nonexistent")
    assert isinstance(builder.directory, RayDirectory) and builder.provisioner is None
    assert (builder.directory.address, builder.directory.namespace) == ("127.0.0.1:1", "ns")
    with pytest.raises(ValueError, match="unknown provisioner"):
        create_asgi_app(None, provisioner="kubernetes")
    with pytest.raises(ValueError, match="unknown placement"):
        RayProvisioner(placement="random")
    assert create_asgi_app(None, provisioner="local").directory is None


async def test_apps_are_shared_named_actors(cluster: RayCluster, directory: RayDirectory, deployment: Deployment,
                                            pages: list[Page], apps_dir: Path) -> None:
    assert set(Counter(p.instance for p in pages)) == {"i1", "i2", "i3"}  # readers on every instance
    described = await asyncio.to_thread(_by_app, directory, apps_dir)
    assert sorted(described) == sorted(APPS)  # one actor per app, whichever instance launched it
    workers = {node.node_id for node in cluster.workers}
    assert {d["node_id"] for d in described.values()} == workers  # least-loaded: 3 apps over 2 workers
    assert sorted(Counter(d["node_id"] for d in described.values()).values()) == [1, 2]
    for app, description in described.items():
        held = await asyncio.to_thread(_sessions, directory, description)
        readers = {p.reader.session_ids[-1] for p in pages if p.reader.app == app}
        assert set(held) == readers and len(readers) == READERS_PER_APP  # readers of several instances, one process
        assert description["host"] == "127.0.0.1" and all(e.startswith("tcp://127.0.0.1:")
                                                          for e in description["endpoints"].values())
    # Another instance finds the same actor by name: the same process, the same endpoints.
    public, _ = await asyncio.to_thread(directory.client_keypair)
    alpha = apps_dir / "alpha.py"
    found = await asyncio.to_thread(directory.get_or_launch, app_key(alpha),
                                    AppSpec(name="/alpha", notebook=alpha, server_public_key=public.decode()))
    assert isinstance(found, RayProvisioner) and found.name == actor_name(app_key(alpha))
    assert found.endpoints is not None and found.endpoints.pid == described["alpha"]["pid"]
    assert found.poll() is None
    again = RayProvisioner.from_info(found.info())
    assert again.endpoints == found.endpoints and again.poll() is None
    for page in pages:
        await page.move(page.value + 1)


async def test_node_failure(cluster: RayCluster, directory: RayDirectory, pages: list[Page], apps_dir: Path) -> None:
    before = await asyncio.to_thread(_by_app, directory, apps_dir)
    load = Counter(d["node_id"] for d in before.values())
    victim_id = load.most_common(1)[0][0]
    victim = next(node for node in cluster.workers if node.node_id == victim_id)
    lost = sorted(app for app, d in before.items() if d["node_id"] == victim_id)
    kept = sorted(app for app in before if app not in lost)
    assert lost and kept
    marks = {id(p): len(p.reader.messages) for p in pages}
    await asyncio.to_thread(cluster.remove_worker, victim)

    deadline = time.monotonic() + RESTART_DEADLINE
    while True:  # the lost apps run again, on another node, within the bound
        now = await asyncio.to_thread(_by_app, directory, apps_dir)
        moved = [a for a in lost if a in now and now[a]["incarnation"] != before[a]["incarnation"]]
        if len(moved) == len(lost):
            break
        assert time.monotonic() < deadline, {a: now.get(a) for a in lost}
        await asyncio.sleep(0.5)
    for app in lost:
        assert now[app]["node_id"] != victim_id and now[app]["node_id"] in cluster.alive_node_ids()
    for app in kept:  # untouched: same process, same actor incarnation
        assert (now[app]["pid"], now[app]["incarnation"]) == (before[app]["pid"], before[app]["incarnation"])

    async def restarted(page: Page) -> None:
        reader, mark = page.reader, marks[id(page)]
        notice = await reader.wait_for(lambda m: m.get("type") == "app-restarted", since=mark, timeout=90)
        assert "restarted" in notice["message"]
        index = reader.messages.index(notice)
        # A fresh session: the notebook runs again from the start, its slider back at 0.
        output = await reader.wait_for(lambda m: m.get("type") == "cell-output" and UI_MIME in m.get("data", {}),
                                       since=index, timeout=120)
        page.element = output["data"][UI_MIME]["id"]
        await reader.wait_for(lambda m: m.get("type") == "cell-console" and m.get("cell_id") == page.cell
                              and m.get("text") == f"{reader.app} 0\n", since=index, timeout=120)
        await page.move(page.value + 1)

    moved_pages = [p for p in pages if p.reader.app in lost]
    kept_pages = [p for p in pages if p.reader.app in kept]
    await asyncio.gather(*(restarted(p) for p in moved_pages))
    for page in kept_pages:
        assert not [m for m in page.reader.messages[marks[id(page)]:]
                    if m.get("type") in ("app-restarted", "kernel-died")]
        assert page.reader.connections == 1
        await page.move(page.value + 1)


async def test_app_process_crash(cluster: RayCluster, directory: RayDirectory, pages: list[Page],
                                 apps_dir: Path) -> None:
    """``kill -9`` of an app process: Ray restarts its actor (a fresh app process); its
    readers get "this app restarted" and a fresh session; the other apps are untouched."""
    before = await asyncio.to_thread(_by_app, directory, apps_dir)
    victim = "beta"
    marks = {id(p): len(p.reader.messages) for p in pages}
    os.kill(before[victim]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + RESTART_DEADLINE
    while True:
        now = await asyncio.to_thread(_by_app, directory, apps_dir)
        if victim in now and now[victim]["incarnation"] != before[victim]["incarnation"]:
            break
        assert time.monotonic() < deadline, now.get(victim)
        await asyncio.sleep(0.5)
    assert now[victim]["pid"] != before[victim]["pid"]
    for app in APPS:
        if app != victim:
            assert now[app]["incarnation"] == before[app]["incarnation"]
    for page in pages:
        reader, mark = page.reader, marks[id(page)]
        if reader.app != victim:
            continue
        notice = await reader.wait_for(lambda m: m.get("type") == "app-restarted", since=mark, timeout=90)
        index = reader.messages.index(notice)
        output = await reader.wait_for(lambda m: m.get("type") == "cell-output" and UI_MIME in m.get("data", {}),
                                       since=index, timeout=120)
        page.element = output["data"][UI_MIME]["id"]
        await page.move(page.value + 1)
    for page in pages:
        if page.reader.app != victim:
            assert not [m for m in page.reader.messages[marks[id(page)]:] if m.get("type") == "app-restarted"]


async def test_scale_out(cluster: RayCluster, directory: RayDirectory, tmp_path: Path) -> None:
    node = cluster.add_worker()  # in this thread: Ray's node start installs signal handlers
    deadline = time.monotonic() + 120
    while node.node_id not in cluster.alive_node_ids():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.5)
    notebook = tmp_path / "delta.py"
    write_notebook(notebook, Notebook(cells=[Cell(id="c0", kind="code", source="x = 1")]))
    public, _ = await asyncio.to_thread(directory.client_keypair)
    provisioner = await asyncio.to_thread(directory.get_or_launch, app_key(notebook),
                                          AppSpec(name="/delta", notebook=notebook, server_public_key=public.decode(),
                                                  ready_timeout=120))
    assert isinstance(provisioner, RayProvisioner)
    assert provisioner.node_id == node.node_id  # the new, empty node takes the next app
    assert provisioner.description is not None
    assert await asyncio.to_thread(_sessions, directory, provisioner.description) == []
    # terminate(): the app ends for good (its actor is killed, not restarted; its name is free).
    pid = provisioner.description["pid"]
    provisioner.terminate()
    assert await asyncio.to_thread(provisioner.wait, 60) == -1
    deadline = time.monotonic() + 60
    while app_key(notebook) in await asyncio.to_thread(directory.entries) or pid_alive(pid):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.5)
    reap(pid)


async def test_clean_end(cluster: RayCluster, directory: RayDirectory, deployment: Deployment,
                         pages: list[Page]) -> None:
    entries = await asyncio.to_thread(directory.entries)
    live = {e["description"]["pid"] for e in entries.values()}
    ports = [int(a.rpartition(":")[2]) for e in entries.values() for a in e["description"]["endpoints"].values()]
    assert len(live) == 3 and live <= SEEN_PIDS
    pids = set(SEEN_PIDS)  # with those the lost node and the crash left (they idle out)
    await asyncio.gather(*(p.reader.close() for p in pages))
    await asyncio.to_thread(deployment.stop)
    deadline = time.monotonic() + 4 * GRACE + 30  # the sessions' grace, then the apps' idle grace
    while await asyncio.to_thread(directory.entries):  # unread apps idle out and their actors end
        assert time.monotonic() < deadline
        await asyncio.sleep(0.5)
    await asyncio.to_thread(cluster.shutdown)
    while any(leftovers(cluster, pids).values()):
        assert time.monotonic() < deadline, leftovers(cluster, pids)
        await asyncio.sleep(0.2)
    for pid in pids:
        reap(pid)
    ports += [deployment.haproxy.port, *(i.port for i in deployment.instances)]
    ours = pids | {os.getpid()} | {i.proc.pid for i in deployment.instances if i.proc is not None}
    assert not _listeners(set(ports), ours)  # every socket closed (ephemeral ports reused by others are not ours)


def _listeners(ports: set[int], pids: set[int]) -> list[tuple[int, int | None]]:
    """``(port, pid)`` of sockets still listening on ``ports`` held by ``pids`` or by an
    unknown process (a port answering a connection but owned by no process we can see)."""
    import psutil

    found = [(c.laddr.port, c.pid) for c in psutil.net_connections(kind="tcp")
             if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port in ports]
    return [(port, pid) for port, pid in found if pid is None or pid in pids]
