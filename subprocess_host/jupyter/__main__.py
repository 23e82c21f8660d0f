"""``python -m subprocess_host.jupyter -f CONNECTION_FILE [--python PATH] [--semantics S]``:
the bridge process a kernelspec's ``argv`` runs (see :mod:`subprocess_host.jupyter.bridge`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    """Run one bridge until it is stopped; returns its exit status (2: bad arguments)."""
    parser = argparse.ArgumentParser(prog="python -m subprocess_host.jupyter",
                                     description="amphikernel's Jupyter kernel (the bridge process)")  # fmt: skip
    parser.add_argument("-f", "--connection-file", required=True, help="the Jupyter connection file")
    parser.add_argument("--python", default=None, help="the kernel's interpreter (default: this one)")
    parser.add_argument("--semantics", choices=("script", "strict"), default="script")
    parser.add_argument("--cwd", default=None, help="the kernel's working directory (default: this one's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="[amphikernel jupyter] %(levelname)s %(message)s")
    from lifecycle.kernel_lifecycle import KernelArgs
    from subprocess_host.jupyter.bridge import Bridge, Connection

    try:
        conn = Connection.load(args.connection_file)
    except (OSError, ValueError) as exc:
        print(f"amphikernel jupyter: {exc}", file=sys.stderr)
        return 2
    # Ctrl-C in a terminal reaches the whole process group: the kernel subprocess interrupts
    # its cell; the bridge itself goes on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    kernel_args = KernelArgs(semantics=args.semantics, console="fd", virtual_files=None, install_main=True)
    bridge = Bridge(conn, kernel_args, python=args.python, cwd=args.cwd)
    return asyncio.run(bridge.serve())


if __name__ == "__main__":
    raise SystemExit(main())
