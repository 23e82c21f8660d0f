"""``python -m pyodide_host.build [--tests | --all] [--prebuilt] [--root DIR] [--quiet]``.

``--prebuilt`` also copies our Pyodide wheel into ``pyodide_host/prebuilt/`` (package data of
the amphikernel wheel: :mod:`pyodide_host.build.prebuilt`).

Errors are reported as one line (``pyodide_host.build: error: ...``) with exit status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyodide_host.build.common import BuildError, Layout, default_layout
from pyodide_host.build.dist import ensure_dist
from pyodide_host.build.our_wheel import build_our_wheel, project_version
from pyodide_host.build.prebuilt import write_prebuilt
from pyodide_host.build.runtime import ensure_npm

__all__ = ["DESCRIPTION", "main"]

DESCRIPTION = (
    "Assemble the Pyodide *dist directory*: the npm ``pyodide`` runtime, the wheels it loads, a\n"
    "``pyodide-lock.json`` listing exactly those wheels."
)
"""The command's description (the first paragraph of :mod:`pyodide_host.build`)."""


def main(argv: list[str] | None = None) -> int:
    """``python -m pyodide_host.build [--tests | --all] [--prebuilt] [--root DIR] [--quiet]``:
    build, then print the dist path(s) (and the prebuilt wheel's), one a line; 0 on success,
    1 with a one-line error on stderr."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pyodide_host.build", description=DESCRIPTION)
    parser.add_argument("--tests", action="store_true", help="also add pytest & co (build/pyodide/dist-tests)")
    parser.add_argument("--all", action="store_true", help="build both dist and dist-tests")
    parser.add_argument("--root", type=Path, default=None, help="build directory (default: build/pyodide)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--prebuilt", action="store_true", help="also copy our Pyodide wheel into pyodide_host/prebuilt/ (package data)"
    )
    args = parser.parse_args(argv)
    layout = Layout(args.root.resolve()) if args.root else None
    try:
        flavours = (False, True) if args.all else (args.tests,)
        dists = [ensure_dist(tests, layout=layout, quiet=args.quiet) for tests in flavours]
        if args.prebuilt:
            where = layout or default_layout()
            wheel = build_our_wheel(where, ensure_npm(where, quiet=args.quiet), quiet=args.quiet)
            dists.append(write_prebuilt(wheel, project_version()))
    except BuildError as exc:
        print(f"pyodide_host.build: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pyodide_host.build: interrupted", file=sys.stderr)
        return 130
    for dist in dists:
        print(dist)
    return 0
