"""The host side of one matrix cell, run *by file path* with a host venv's interpreter::

    <host venv>/bin/python tests/compat/driver.py --link subprocess|app --kernel-python PY [--only 1,2]

It imports amphikernel from that venv (the installed wheel; its working directory is outside
the repository and ``PYTHONPATH`` is unset), drives a kernel on ``PY`` through the link and
prints one JSON object on its last stdout line: ``{"host": "3.x.y", "kernel": "3.x.y",
"link": ..., "results": [{"scenario", "ok", "detail", "seconds"}, ...]}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

import links  # type: ignore[import-not-found]  # siblings: this file runs as a script
import scenarios  # type: ignore[import-not-found]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--link", choices=sorted(links.LINKS), required=True)
    parser.add_argument("--kernel-python", required=True)
    parser.add_argument("--only", default="")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    import subprocess_host

    if "site-packages" not in (subprocess_host.__file__ or ""):
        print(f"amphikernel imported from {subprocess_host.__file__}, not an installed wheel", file=sys.stderr)
        return 2
    link = links.LINKS[args.link](args.kernel_python)
    only = [s for s in args.only.split(",") if s] or None
    results = asyncio.run(scenarios.run_all(link, only))
    host = ".".join(map(str, sys.version_info[:3]))
    print(json.dumps({"host": host, "kernel": link.kernel_version, "link": args.link, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
