"""App-server benchmarks: one OS process per notebook app, sessions as its kernel threads.

Figures (each median beside its floor, measured in the same run):

* first session of an app: the app process forked from the server's warm template
  (:mod:`subprocess_host.apps.zygote`) -> ready line -> ``create-kernel`` -> ``kernel-ready``
  (floor: ``python -c "import zmq, msgspec"``); target <= 100 ms and <= 1.5x the floor;
* the same with ``Popen`` (a per-app interpreter), Popen -> ready line alone, and the
  template's own start (paid once per server, in the background while it starts);
* a later session of a running app (``create-kernel`` -> ``kernel-ready``); target <= 1 ms
  (peer: a run-mode thread kernel in the server process, ``ThreadKernel``);
* memory per additional session, server + app process RSS; target <= 0.2 MiB.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.report import Figure, print_figures
from benchmarks.subprocess import _import_floor, _rss_mib
from subprocess_host.apps.kernel import AppKernel
from subprocess_host.apps.pool import AppPool
from subprocess_host.apps.provisioner import AppSpec, LocalProvisioner
from subprocess_host.thread_kernel import ThreadKernel

RUNS = 15
SESSIONS = 50


def _notebook(folder: Path) -> Path:
    path = folder / "bench.py"
    path.write_text("# %%\nx = 1\n")
    return path


async def _first_sessions(notebook: Path) -> tuple[list[float], list[float], list[float]]:
    """First sessions of new apps: forked from the warm template, and started with Popen
    (a per-app interpreter); plus the template's own start (once per server)."""
    import sys

    template, forked, popened = [], [], []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        pool = AppPool()
        assert pool.zygote is not None
        await asyncio.to_thread(pool.zygote.wait_ready)
        template.append(time.perf_counter() - t0)
        for samples, python in ((forked, None), (popened, sys.executable)):
            t0 = time.perf_counter()
            kernel = AppKernel(pool, f"bench{python}", notebook, python=python)
            await kernel.start()
            await kernel.wait_ready(30)
            samples.append(time.perf_counter() - t0)
        await pool.close()
    return template, forked, popened


def _ready_lines(notebook: Path) -> list[float]:
    import zmq

    key = zmq.curve_keypair()[0].decode()
    samples = []
    for _ in range(RUNS):
        provisioner = LocalProvisioner()
        t0 = time.perf_counter()
        provisioner.launch(AppSpec("bench", notebook, key))
        samples.append(time.perf_counter() - t0)
        provisioner.kill()
        provisioner.wait(10)
    return samples


async def _later_sessions(notebook: Path) -> tuple[list[float], float, float]:
    pool = AppPool()
    warm = AppKernel(pool, "bench", notebook)
    await warm.start()
    await warm.wait_ready(30)
    app_pid = pool.instances["bench"].pid
    for _ in range(5):  # warm-up: first thread, first allocations
        k = AppKernel(pool, "bench", notebook)
        await k.start()
        await k.wait_ready(30)
    await asyncio.sleep(0.2)
    gc.collect()
    server_before, app_before = _rss_mib(os.getpid()), _rss_mib(app_pid)
    samples, kernels = [], []
    for _ in range(SESSIONS):
        t0 = time.perf_counter()
        kernel = AppKernel(pool, "bench", notebook)
        await kernel.start()
        await kernel.wait_ready(30)
        samples.append(time.perf_counter() - t0)
        kernels.append(kernel)
    await asyncio.sleep(0.2)
    gc.collect()
    server_after, app_after = _rss_mib(os.getpid()), _rss_mib(app_pid)
    await pool.close()
    return samples, (server_after - server_before) / SESSIONS, (app_after - app_before) / SESSIONS


async def _thread_sessions() -> list[float]:
    samples, kernels = [], []
    for _ in range(SESSIONS):
        t0 = time.perf_counter()
        kernel = ThreadKernel()
        await kernel.start()
        await kernel.wait_ready(10)
        samples.append(time.perf_counter() - t0)
        kernels.append(kernel)
    for kernel in kernels:
        await kernel.shutdown()
    return samples


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        notebook = _notebook(Path(folder))
        floor = _import_floor(RUNS)
        template, first, popened = asyncio.run(_first_sessions(notebook))
        ready = _ready_lines(notebook)
        floor += _import_floor(RUNS)  # interleaved: the machine's load drifts
        later, server_mib, app_mib = asyncio.run(_later_sessions(notebook))
        threads = asyncio.run(_thread_sessions())
    floor_name = 'python -c "import zmq, msgspec"'
    ratio = statistics.median(first) / statistics.median(floor)
    figures = [
        Figure("first session of an app (fork -> ready -> kernel-ready)", first, floor, floor_name,
               "<= 100 ms and <= 1.5x floor", extra=f"ratio {ratio:.2f}"),
        Figure("first session, per-app interpreter (Popen -> kernel-ready)", popened, floor, floor_name),
        Figure("app process Popen -> APP_READY line", ready, floor, floor_name),
        Figure("app template start (once per server, in the background)", template, floor, floor_name),
        Figure("later session of a running app (create -> kernel-ready)", later, threads,
               "peer: run-mode thread kernel in the server", "<= 1 ms"),
    ]
    print_figures("app server (one process per notebook app)", figures)
    print(f"{'memory per additional session (server + app RSS)':58s} {server_mib + app_mib:9.3f} MiB  "
          f"(server {server_mib:.3f} + app process {app_mib:.3f}; {SESSIONS} sessions)  target <= 0.2 MiB")


if __name__ == "__main__":
    main()
