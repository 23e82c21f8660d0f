"""The ``amphi`` command line.

Errors are one clear line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from lifecycle.notebook import (
    Cell,
    Notebook,
    NotebookFormatError,
    new_cell_id,
    read_notebook,
    write_notebook,
)
from lifecycle.outputs import output_text
from pyodide_host.extras import MissingExtraError


def _version() -> str:
    try:
        return version("amphikernel")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def version_line() -> str:
    """What ``amphi --version`` prints: amphikernel's version and the Pyodide that exports use."""
    try:
        from pyodide_host.build.pins import npm_pin

        pyodide = npm_pin().version
    except (ImportError, OSError, KeyError, ValueError):
        pyodide = "unknown"
    return f"amphi {_version()} (exports use Pyodide {pyodide})"


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 1 (2 for usage)."""


def _read(path: str) -> Notebook:
    p = Path(path)
    if not p.exists():
        raise CliError(f"no such notebook: {path}")
    try:
        return read_notebook(p)
    except (NotebookFormatError, UnicodeDecodeError, OSError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None


def print_text(nb: Notebook, out: object = None) -> None:
    """Print a notebook's outputs as plain text, cell by cell."""
    stream = out or sys.stdout
    for index, cell in enumerate(nb.cells):
        if cell.kind != "code":
            continue
        title = f" ({cell.name})" if cell.name else ""
        count = f"[{cell.execution_count}]" if cell.execution_count is not None else "[ ]"
        print(f"── {count} cell {index + 1}{title} " + "─" * 20, file=stream)
        for output in cell.outputs:
            print(output_text(output), end="", file=stream)


def cmd_execute(args: argparse.Namespace) -> int:
    from subprocess_host.client import KernelStartError
    from subprocess_host.headless import run_in_process, run_in_subprocess

    nb = _read(args.notebook)
    cwd = args.cwd or str(Path(args.notebook).resolve().parent)
    if args.in_process:
        result = run_in_process(nb, cwd=cwd, timeout=args.timeout)
    else:
        try:
            result = run_in_subprocess(nb, cwd=cwd, python=args.python, timeout=args.timeout)
        except KernelStartError as exc:
            raise CliError(str(exc)) from None
    if args.format == "text":
        print_text(result.notebook)
    if args.output:
        write_notebook(Path(args.output), result.notebook)
        print(f"wrote {args.output}", file=sys.stderr)
    for message in result.kernel_errors:
        print(f"kernel error: {message}", file=sys.stderr)
    if result.failed_cells:
        print(f"{len(result.failed_cells)} cell(s) failed: {', '.join(result.failed_cells)}", file=sys.stderr)
        return 1
    return 0


def _provisioner_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--provisioner ray --ray-address ... --ray-namespace ...`` as builder options."""
    if getattr(args, "provisioner", "local") != "ray":
        return {}
    return {"provisioner": "ray", "ray_address": args.ray_address, "ray_namespace": args.ray_namespace}


def cmd_serve(args: argparse.Namespace) -> int:
    from subprocess_host.server import ServerOptions, serve_notebook

    notebooks = args.notebook if isinstance(args.notebook, list) else [args.notebook]
    if args.mode == "run" and (len(notebooks) > 1 or Path(notebooks[0]).is_dir()):
        from subprocess_host.apps.serve import serve_apps  # one OS process per notebook app

        return serve_apps([Path(n) for n in notebooks], watch=args.watch, host=args.host, port=args.port,
                          token=args.token, no_token=args.no_token, python=args.python,
                          instance_id=getattr(args, "instance_id", None),
                          session_grace=getattr(args, "session_grace", 60.0),
                          app_directory=getattr(args, "app_directory", None),
                          **_provisioner_options(args))
    if getattr(args, "watch", False):
        raise CliError("--watch needs a directory")
    options = ServerOptions(
        mode=args.mode, notebook=Path(notebooks[0]), host=args.host, port=args.port,
        token=args.token, no_token=args.no_token, python=args.python, open_browser=not args.no_browser,
    )
    return serve_notebook(options)


def cmd_convert(args: argparse.Namespace) -> int:
    nb = _read(args.source)
    target = Path(args.target)
    if target.suffix not in (".py", ".ipynb"):
        raise CliError(f"cannot tell the format of {args.target}: use a .py or .ipynb name")
    write_notebook(target, nb)
    print(f"wrote {target}", file=sys.stderr)
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    path = Path(args.notebook)
    if path.exists():
        raise CliError(f"{path} already exists")
    nb = Notebook(cells=[Cell(id=new_cell_id(), kind="code", source="")])
    write_notebook(path, nb)
    print(f"created {path}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pyodide_host.build import BuildError
    from pyodide_host.export import export_html_wasm
    from subprocess_host.headless import run_in_subprocess
    from subprocess_host.progress import ExportProgress

    notebook = Path(args.notebook)
    if not notebook.exists():
        raise CliError(f"no such notebook: {args.notebook}")
    try:
        with ExportProgress(quiet=args.quiet) as bar:
            result = export_html_wasm(
                notebook, Path(args.output), mode=args.mode, include_outputs=args.include_outputs,
                requirements=args.requirement, index_urls=args.index_url,
                detect_imports=not args.no_detect_imports, timeout=args.timeout, progress=bar,
                run_notebook=run_in_subprocess, pyodide_dir=args.pyodide_dir,
                on_bytes=bar.download, notice=bar.notice,
                memory_snapshot=not args.no_memory_snapshot,
            )  # fmt: skip
    except BuildError as exc:
        raise CliError(str(exc)) from None
    for name, why in result.skipped.items():
        print(f"amphi: warning: `import {name}` will fail in the browser: {why}", file=sys.stderr)
    if result.failed_cells:
        print(f"amphi: warning: {len(result.failed_cells)} cell(s) failed during the export run", file=sys.stderr)
    print(f"wrote {result.directory} (open it through a web server, e.g. `python -m http.server -d {result.directory}`)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amphi", description="amphikernel: a reactive Python notebook runtime.")
    parser.add_argument("--version", action="version", version=version_line())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    ex = sub.add_parser("execute", help="run every cell headless, print outputs, optionally write an .ipynb")
    ex.add_argument("notebook", help="a percent-format .py or an .ipynb")
    ex.add_argument("-o", "--output", help="write the notebook with outputs to this .ipynb (or .py)")
    ex.add_argument("--format", choices=["text", "none"], default="text", help="how to print outputs (default: text)")
    ex.add_argument("--cwd", help="working directory for the run (default: the notebook's directory)")
    ex.add_argument("--timeout", type=float, default=600, help="seconds allowed for the whole run (default 600)")
    ex.add_argument("--python", help="interpreter for the kernel subprocess (default: this one)")
    ex.add_argument("--in-process", action="store_true", help="run the kernel in this process instead of a subprocess")
    ex.set_defaults(func=cmd_execute)
    for mode, text in (("edit", "open a notebook for editing in the browser (kernel in a subprocess)"),
                       ("run", "serve a notebook as an app: each reader gets its own kernel; code is read-only")):
        sp = sub.add_parser(mode, help=text)
        if mode == "run":
            sp.add_argument("notebook", nargs="+", help="a percent-format .py or an .ipynb; several notebooks or a "
                            "directory serve each as an app with its own process, listed on an index page")
            sp.add_argument("--watch", action="store_true", help="with a directory: pick up added and removed notebooks")
            sp.add_argument("--instance-id", help="this server instance's id (X-Served-By; default random)")
            sp.add_argument("--session-grace", type=float, default=60.0, metavar="SECONDS",
                            help="keep a reader's session this long after its connection closes, to resume it (default 60)")
            sp.add_argument("--app-directory", metavar="DIR", help="share app processes with other server instances "
                            "through this registry directory ('default': under the user's runtime directory)")
            sp.add_argument("--provisioner", choices=("local", "ray"), default="local",
                            help="where app processes run: this machine (default) or a Ray cluster, one detached "
                            "named actor per app shared by every instance (pip install amphikernel[ray])")
            sp.add_argument("--ray-address", metavar="HOST:PORT", help="with --provisioner ray: the cluster's head "
                            "(default: RAY_ADDRESS or the local cluster)")
            sp.add_argument("--ray-namespace", metavar="NAME", help="with --provisioner ray: the Ray namespace of the "
                            "deployment's actors (default amphikernel)")
        else:
            sp.add_argument("notebook", help="a percent-format .py or an .ipynb (created if missing, edit mode)")
        sp.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        sp.add_argument("--port", type=int, default=0, help="port (default: a free one)")
        sp.add_argument("--token", help="access token (default: a random one, printed in the URL)")
        sp.add_argument("--no-token", action="store_true", help="no access token (warned about on non-loopback addresses)")
        sp.add_argument("--python", help="kernel interpreter (edit mode; default: this one)")
        sp.add_argument("--no-browser", action="store_true", help="do not open a browser")
        sp.set_defaults(func=cmd_serve, mode=mode)
    cv = sub.add_parser("convert", help="convert between .ipynb and percent-format .py")
    cv.add_argument("source")
    cv.add_argument("target")
    cv.set_defaults(func=cmd_convert)
    exp = sub.add_parser("export", help="export a notebook (html-wasm: a static site that runs it in the browser)")
    exp_sub = exp.add_subparsers(dest="format", metavar="FORMAT", required=True)
    hw = exp_sub.add_parser("html-wasm", help="a self-contained folder: page, Pyodide runtime, wheels; any static server")
    hw.add_argument("notebook", help="a percent-format .py or an .ipynb")
    hw.add_argument("-o", "--output", required=True, help="the site directory to write")
    hw.add_argument("--mode", choices=["run", "edit"], default="run", help="app (run, default) or editor (edit; saving downloads the .py)")
    hw.add_argument("--include-outputs", action="store_true", help="run the notebook now and show its outputs before Python is ready in the browser")
    hw.add_argument("-r", "--requirement", action="append", default=[], metavar="REQ", help="an extra requirement to ship (repeatable), e.g. tabulate==0.9.0")
    hw.add_argument("--index-url", action="append", default=[], metavar="URL", help="a package index micropip may use after the site's own (repeatable)")
    hw.add_argument("--no-detect-imports", action="store_true", help="do not ship the PyPI packages the cells import")
    hw.add_argument("--no-memory-snapshot", action="store_true", help="do not make the Python memory snapshot pages start from (made with Node.js)")
    hw.add_argument("--timeout", type=float, default=600, help="seconds allowed for the --include-outputs run (default 600)")
    hw.add_argument("--pyodide-dir", metavar="DIR", help="take the pinned Pyodide runtime and wheels from DIR (as downloaded: pyodide-<version>.tgz or unpacked, and the .whl files) before the cache and the network")
    hw.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no notes on stderr")
    hw.set_defaults(func=cmd_export)
    nw = sub.add_parser("new", help="create an empty notebook")
    nw.add_argument("notebook")
    nw.set_defaults(func=cmd_new)
    # amphi jupyter install | uninstall (the module imports no jupyter_client)
    from subprocess_host.jupyter.kernelspec import add_parser as add_jupyter_parser

    add_jupyter_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``amphi`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except CliError as exc:
        print(f"amphi: error: {exc}", file=sys.stderr)
        return 1
    except MissingExtraError as exc:  # an optional dependency is not installed
        print(f"amphi: error: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        print("amphi: error: the notebook did not finish in time", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("amphi: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
