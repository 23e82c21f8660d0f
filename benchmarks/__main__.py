"""``python -m benchmarks SUITE``: run a benchmark suite (``core``, ``figures``, ``subprocess``, ``pyodide`` or ``all``)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    suites = {"core": "benchmarks.core", "figures": "benchmarks.figures", "subprocess": "benchmarks.subprocess", "pyodide": "benchmarks.pyodide"}
    wanted = list(suites) if args in ([], ["all"]) else args
    unknown = [w for w in wanted if w not in suites]
    if unknown:
        print(f"unknown suite(s) {', '.join(unknown)}; choose from: {', '.join(suites)}, all", file=sys.stderr)
        return 2
    import importlib

    for name in wanted:
        importlib.import_module(suites[name]).main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
