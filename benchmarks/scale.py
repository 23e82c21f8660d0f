"""``python -m benchmarks scale``: server instances behind HAProxy, app processes on Ray.

Set-up, as the scale tests (``tests/scale/``): a Ray cluster on 127.0.0.1 (a head and 2 worker
nodes), 3 server instances (``amphi run DIR/ --provisioner ray``) behind Debian's HAProxy with
the shipped ``deploy/haproxy.cfg``, 3 apps (a slider and a cell printing its value).
``--provisioner local`` runs the same without Ray (app processes shared through the local
directory).

Figures, each beside its floor measured in the same run:

* readers attached per second: 30 readers open the page and the WebSocket at once, until each
  has its session (``resume-session``); rounds of 30, median readers/s (floor: the same
  straight to one instance, no balancer);
* slider round trip (``update-ui-element`` -> the print cell's console output on the same
  WebSocket) with 30 and with 300 readers attached, every reader moving its slider
  ``MOVES`` times; median and p99 (floor: 30 readers straight to one instance);
* failover: ``kill -9`` the instance holding the most readers; time until every one of its
  readers is attached again through HAProxy and has its slider value and output back; median
  of 5 (the killed instance is started again between rounds; floor: the same readers closing
  and resuming their sessions while every instance lives).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from benchmarks.report import Figure, print_figures

ROUNDS = 5
MOVES = 5
FAILOVERS = 5


def _load_harness() -> Any:
    """The scale tests' harness (HAProxy, instances, readers; Ray cluster)."""
    from tests.scale import conftest, haproxy, test_haproxy

    return conftest, haproxy, test_haproxy


async def _attach(base: str, apps: tuple[str, ...], count: int, page_cls: Any, reader_cls: Any) -> tuple[list[Any], float]:
    """``count`` readers spread over ``apps`` opened at once; returns them and the seconds
    until every one has its session."""
    readers = [reader_cls(base, apps[n % len(apps)]) for n in range(count)]
    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=count)) as client:
        t0 = time.perf_counter()

        async def one(reader: Any) -> None:
            await reader.load_page(client)
            await reader.connect()
            await reader.wait_for(lambda m: m.get("type") == "resume-session", timeout=300)

        await asyncio.gather(*(one(r) for r in readers))
        elapsed = time.perf_counter() - t0
    return readers, elapsed


async def _close(readers: list[Any]) -> None:
    await asyncio.gather(*(r.close() for r in readers), return_exceptions=True)


async def _pages(base: str, apps: tuple[str, ...], count: int, page_cls: Any, reader_cls: Any) -> list[Any]:
    pages = [page_cls(reader_cls(base, apps[n % len(apps)]), 1000 * (n + 1)) for n in range(count)]
    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=min(count, 100))) as client:
        for start in range(0, count, 30):  # in waves: 300 first runs at once would only queue
            await asyncio.gather(*(p.open(client) for p in pages[start:start + 30]))
    return pages


async def _round_trips(pages: list[Any]) -> list[float]:
    """Every page moves its slider ``MOVES`` times (one move in flight per page)."""
    samples: list[float] = []

    async def run(page: Any) -> None:
        for _ in range(MOVES):
            t0 = time.perf_counter()
            await page.move(page.value + 1, timeout=300)
            samples.append(time.perf_counter() - t0)

    await asyncio.gather(*(run(p) for p in pages))
    return samples


async def _resume(page: Any, since: float, killed: bool) -> float:
    """Reconnect ``page``'s reader (after its socket closed) until its slider value and
    output are back; seconds since ``since``."""
    reader = page.reader
    if not killed:
        await reader.close()
    else:
        await asyncio.wait_for(reader.closed.wait(), 60)
    await reader.reconnect(deadline=since + 60)
    connection, value = reader.connections, page.value
    await reader.wait_for(lambda m: m.get("_connection") == connection and m.get("type") == "ui-element-value"
                          and m.get("value") == value, timeout=60)
    while reader.console(page.cell, connection) != f"{reader.app} {value}\n":
        if time.monotonic() > since + 60:
            raise TimeoutError(f"{reader.app}: output not back")
        await asyncio.sleep(0.01)
    return time.monotonic() - since


async def _failovers(deployment: Any, pages: list[Any]) -> tuple[list[float], list[float]]:
    failover, floor = [], []
    for _ in range(FAILOVERS):
        victim = Counter(p.instance for p in pages).most_common(1)[0][0]
        moved = [p for p in pages if p.instance == victim]
        since = time.monotonic()
        await asyncio.gather(*(_resume(p, since, killed=False) for p in moved))  # floor: plain resume
        floor.append(time.monotonic() - since)
        since = time.monotonic()
        await asyncio.to_thread(deployment.instance(victim).kill)
        await asyncio.gather(*(_resume(p, since, killed=True) for p in moved))
        failover.append(time.monotonic() - since)
        instance = deployment.instance(victim)
        await asyncio.to_thread(instance.stop)
        instance.start()
        await asyncio.to_thread(instance.wait_started)
        await asyncio.sleep(3)  # HAProxy's health check sees it up again
    return failover, floor


async def _run(provisioner: str, big: int) -> list[Figure]:
    conftest, haproxy, test_haproxy = _load_harness()
    page_cls, reader_cls = test_haproxy.Page, haproxy.Reader
    cluster = None
    extra: list[str] = []
    if provisioner == "ray":
        from tests.scale.ray_cluster import NAMESPACE, RayCluster

        cluster = RayCluster(workers=2)
        extra = ["--provisioner", "ray", "--ray-address", cluster.address, "--ray-namespace", NAMESPACE]
    haproxy.become_subreaper()
    with tempfile.TemporaryDirectory(prefix="amphi-bench-scale-") as tmp:
        apps_dir = conftest.write_apps(Path(tmp) / "apps")
        deployment = haproxy.Deployment(apps_dir, Path(tmp), grace=conftest.GRACE, extra_args=extra)
        try:
            deployment.start()
            apps = conftest.APPS
            direct = f"http://127.0.0.1:{deployment.instances[0].port}"
            warm = await _pages(deployment.base, apps, 3, page_cls, reader_cls)  # the app processes start
            await _close([p.reader for p in warm])
            attach, attach_floor = [], []
            for _ in range(ROUNDS):
                for samples, base in ((attach, deployment.base), (attach_floor, direct)):
                    readers, elapsed = await _attach(base, apps, 30, page_cls, reader_cls)
                    samples.append(len(readers) / elapsed)
                    await _close(readers)
            floor_pages = await _pages(direct, apps, 30, page_cls, reader_cls)
            rt_floor = await _round_trips(floor_pages)
            await _close([p.reader for p in floor_pages])
            pages = await _pages(deployment.base, apps, 30, page_cls, reader_cls)
            rt30 = await _round_trips(pages)
            failover, failover_floor = await _failovers(deployment, pages)
            more = await _pages(deployment.base, apps, big - 30, page_cls, reader_cls)
            rt_big = await _round_trips(pages + more)
            await _close([p.reader for p in pages + more])
        finally:
            await asyncio.to_thread(deployment.stop)
            if cluster is not None:
                cluster.shutdown()
    where = "Ray cluster" if provisioner == "ray" else "local apps"
    floor_name = "30 readers straight to one instance"
    return [
        Figure("readers attached per second, 30 at once, via HAProxy", attach, attach_floor,
               "the same straight to one instance", unit="readers/s"),
        Figure("slider round trip, 30 readers straight to one instance (floor)", rt_floor),
        Figure("slider round trip, 30 readers via HAProxy (p99 column)", rt30, rt_floor, floor_name),
        Figure(f"slider round trip, {big} readers via HAProxy (p99 column)", rt_big, rt_floor, floor_name),
        Figure(f"failover: kill -9 an instance -> its readers resumed (median of {FAILOVERS})", failover,
               failover_floor, "the same readers resuming, no instance killed", unit="s",
               extra=f"apps on: {where}"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks scale")
    parser.add_argument("--provisioner", choices=("ray", "local"), default="ray")
    parser.add_argument("--readers", type=int, default=300, help="readers of the large round-trip figure")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    figures = asyncio.run(_run(args.provisioner, max(30, args.readers)))
    print_figures(f"scale: 3 instances behind HAProxy, 3 apps ({args.provisioner} provisioner)", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
