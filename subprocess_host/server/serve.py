"""The local server behind ``amphi edit`` and ``amphi run``: entry point.

::

    serve_notebook(ServerOptions(mode="edit", notebook=Path("nb.py")))

resolves the options, opens (edit mode: creates) the notebook, binds the socket, prints the
URL (one line on stdout, ``http://127.0.0.1:PORT/?token=...``) once the server listens, opens
a browser unless told not to, and serves until Ctrl-C or SIGTERM; then every kernel is
stopped (subprocesses ended, kernel threads joined, shared memory unlinked) before it
returns 0.  Errors are one line on stderr and exit status 1.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading

from lifecycle.notebook import NotebookFormatError
from subprocess_host.server.app import create_app
from subprocess_host.server.config import (
    ServerConfig,
    ServerConfigError,
    ServerOptions,
    resolve_options,
)
from subprocess_host.server.runner import ServerRunner

__all__ = ["ServerConfig", "ServerOptions", "ServerRunner", "create_app", "serve_notebook"]

log = logging.getLogger("amphikernel.server")


def _configure_logging() -> None:
    """One stderr handler for our loggers and uvicorn's, unless the host set one up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("amphi: %(levelname)s: %(message)s"))
    for name, level in (("amphikernel", logging.INFO), ("uvicorn.error", logging.WARNING)):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(level)
            logger.propagate = False


def _open_browser(url: str) -> None:
    """Open ``url`` in a browser, in a daemon thread; never fails."""
    try:
        import webbrowser
    except ImportError:
        return

    def go() -> None:
        try:
            webbrowser.open(url)
        except Exception as exc:
            log.info("could not open a browser: %s", exc)

    threading.Thread(target=go, name="amphi-browser", daemon=True).start()


def _fail(message: str) -> int:
    print(f"amphi: error: {message}", file=sys.stderr)
    return 1


def serve_notebook(options: ServerOptions) -> int:
    """Serve a notebook until Ctrl-C or SIGTERM (see the module docstring).

    Returns:
        0 after a clean stop; 1 if the server could not start (bad options, unreadable
        notebook, address in use).
    """
    _configure_logging()
    try:
        config = resolve_options(options)
    except ServerConfigError as exc:
        return _fail(str(exc))
    try:
        runner = ServerRunner(config)
    except (NotebookFormatError, OSError) as exc:
        return _fail(f"cannot open {options.notebook}: {exc}")
    if config.token is None and not config.loopback:
        print(
            f"amphi: warning: serving on {config.host} without an access token: anyone who can "
            "reach this address can run code on this machine",
            file=sys.stderr,
        )
    try:
        runner.bind()
    except OSError as exc:
        return _fail(f"cannot listen on {config.host}:{config.port}: {exc}")
    return asyncio.run(_serve(runner))


async def _serve(runner: ServerRunner) -> int:
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, runner.request_stop, signum)
            installed.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
            pass
    try:
        serving = loop.create_task(runner.serve())
        if await runner.wait_started(serving):
            config = runner.config
            print(
                f"amphi: serving {config.notebook} ({config.mode} mode); Ctrl-C to stop",
                file=sys.stderr,
            )
            print(runner.url, flush=True)
            if config.open_browser:
                _open_browser(runner.url)
        await serving
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
    return 0 if runner.started else 1
