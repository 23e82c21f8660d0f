"""``python -m benchmarks SUITE``: run a benchmark suite (``core``, ``figures``, ``subprocess``, ``pyodide``, ``jupyter`` or ``all``; ``load [--sessions N]`` separately)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["load"]:  # takes its own flags; not part of "all" (minutes, 1,000 sessions)
        from benchmarks import load

        return load.main(args[1:])
    if args[:1] == ["scale"]:  # its own flags; not part of "all" (a Ray cluster, HAProxy, 300 readers)
        from benchmarks import scale

        return scale.main(args[1:])
    suites = {"core": "benchmarks.core", "figures": "benchmarks.figures", "subprocess": "benchmarks.subprocess", "pyodide": "benchmarks.pyodide", "big": "benchmarks.big", "peers": "benchmarks.peers", "apps": "benchmarks.apps", "snapshot": "benchmarks.snapshot", "jupyter": "benchmarks.jupyter_bridge"}
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
