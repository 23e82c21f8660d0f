"""The local-process host of amphikernel: the kernel side, ``launch_kernel`` (the public entry
point ``python -m subprocess_host.launch_kernel`` that other tools launch), and the host side:
:class:`~subprocess_host.client.KernelClient` (``client``), the ZeroMQ ``channels`` between a
host and a kernel subprocess, kernels in a thread of this process (``thread_kernel``), headless
execution of a whole notebook (``headless``), the ``amphi`` command line (``cli``) with the
progress display of its long commands (``progress``), the local server in the ``server``
subpackage, the multi-app server (one OS process per notebook app, ``create_asgi_app``) in
the ``apps`` subpackage, and ``static/`` (the built frontend, package data).  May import:
:mod:`lifecycle`, pyzmq, starlette, uvicorn (rich only in ``progress``); never
``js``/``pyodide``, and never :mod:`pyodide_host` except in ``cli``, whose ``export`` command
and ``--version`` call the static-site builder (``pyodide_host.build``,
``pyodide_host.export``, ``pyodide_host.extras``).
"""

from typing import Any

__all__ = ["create_asgi_app"]


def __getattr__(name: str) -> Any:
    """``create_asgi_app`` (:mod:`subprocess_host.apps.asgi`), imported on first use (PEP 562)
    so that ``import subprocess_host.<light module>`` does not load starlette and pyzmq."""
    if name == "create_asgi_app":
        from subprocess_host.apps.asgi import create_asgi_app

        return create_asgi_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
