"""``python -m tests.fuzz [--long] [--cases N] [--only NAME ...] [--seed N]``

Fuzz every boundary and print one table: cases, crashes, hangs, refused cases, memory of the
target (base, peak, end, MiB) and seconds, per boundary.  ``--long`` runs
:data:`~tests.fuzz.report.LONG_CASES` cases per boundary (default: the CI budget).  Exit
status 1 when any boundary had a crash or a hang.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from tests.fuzz.report import CI_CASES, LONG_CASES, MIB, SEED, FuzzReport

BOUNDARIES = ("kernel", "app", "ws-edit", "ws-run", "http", "pyodide", "readers")


def run(names: list[str], cases: int, seed: int) -> list[FuzzReport]:
    """Fuzz the named boundaries; print each report as it finishes."""
    reports: list[FuzzReport] = []
    print(FuzzReport.header(), flush=True)

    def show(new: list[FuzzReport]) -> None:
        for report in new:
            print(report.row(), flush=True)
        reports.extend(new)

    folder = Path(tempfile.mkdtemp(prefix="amphi-fuzz-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        if "kernel" in names:
            from tests.fuzz.kernel import fuzz_kernel

            show(asyncio.run(fuzz_kernel(cases, seed)))
        if "app" in names:
            from tests.fuzz.apps import fuzz_app

            show(asyncio.run(fuzz_app(cases, seed)))
        for mode in ("edit", "run"):
            if f"ws-{mode}" in names:
                from tests.fuzz.server import fuzz_websocket

                show([asyncio.run(fuzz_websocket(mode, cases, Path(tempfile.mkdtemp()), seed))])
        if "http" in names:
            from tests.fuzz.server import fuzz_http

            show([asyncio.run(fuzz_http(cases, Path(tempfile.mkdtemp()), seed))])
        if "pyodide" in names:
            from pyodide_host.build import ensure_dist
            from tests.fuzz.node import fuzz_worker

            show([fuzz_worker(ensure_dist(False, quiet=True), cases, seed)])
        if "readers" in names:
            from tests.fuzz.readers import big_files, fuzz_readers

            show(fuzz_readers(cases, folder, seed))
            for name, result in big_files(folder).items():
                print(f"  {name:<22} {result['size'] / MIB:7.1f} MiB  peak {result['peak_rss'] / MIB:7.1f} MiB  "
                      f"{str(result['result'])[:60]}", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[1])
    parser.add_argument("--long", action="store_true", help=f"{LONG_CASES} cases per boundary")
    parser.add_argument("--cases", type=int, help=f"cases per boundary (default {CI_CASES})")
    parser.add_argument("--only", nargs="+", choices=BOUNDARIES, help="fuzz only these boundaries")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    cases = args.cases or (LONG_CASES if args.long else CI_CASES)
    reports = run(list(args.only or BOUNDARIES), cases, args.seed)
    print("\ntotal: " + ", ".join(f"{r.boundary}={r.cases}" for r in reports))
    for report in reports:
        if report.notes:
            print(f"  {report.boundary}: {report.notes}")
    failed = [r.boundary for r in reports if r.crashes or r.hangs]
    print(f"crashes {sum(r.crashes for r in reports)}, hangs {sum(r.hangs for r in reports)}"
          + (f" (in {', '.join(failed)})" if failed else ""))  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
