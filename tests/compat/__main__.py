"""``python -m tests.compat``: run the IPC compatibility matrix and print its summary table
(exit status 1 when any cell fails).  ``--jobs N``: runs in parallel (default 3)."""

from __future__ import annotations

import argparse
import sys

from tests.compat.envs import CACHE, PYTHONS
from tests.compat.matrix import JOBS, PYODIDE, SCENARIO_KEYS, run_matrix, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.compat", description=__doc__)
    parser.add_argument("--jobs", type=int, default=JOBS)
    args = parser.parse_args(argv)
    matrix = run_matrix(jobs=args.jobs)
    text = summary(matrix)
    print(text)
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / "last-summary.txt").write_text(text + "\n")
    failed = [(k, s) for k in (*PYTHONS, PYODIDE) for s in SCENARIO_KEYS if matrix.cell(k, s)[0] is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
