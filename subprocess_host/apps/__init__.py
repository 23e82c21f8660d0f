"""The app server: many notebooks in one server, one OS process per notebook app.

One job per module: ``wire`` (the frames of the four multiplexed sockets, never-raising
decoders), ``process`` (the app process entry point, ``python -m
subprocess_host.apps.process``), ``provisioner`` (:class:`AppProvisioner`,
:class:`LocalProvisioner`), ``link`` (the server's end of an app's sockets), ``pool`` (the
app processes of a server, crash clean-up), ``kernel`` (a reader's kernel thread in an app
process), ``session`` (reader sessions, the "app restarted" notice), ``catalog`` (which
notebooks at which paths), ``asgi`` (the ASGI application and :func:`create_asgi_app`) and
``serve`` (``amphi run a.py b.py`` / ``amphi run DIR/``), ``resync`` (a session's resync
state, kept in the app process), ``directory`` (:class:`AppDirectory`: the app processes
several server instances share), ``relay`` (``/health`` and ``X-Served-By``), ``zygote`` (the warm
template process that forks app processes, and :class:`~subprocess_host.apps.zygote.ZygoteProvisioner`),
``ray_provisioner`` (app processes as detached named Ray actors: ``RayProvisioner``,
``RayDirectory``; optional, ``amphikernel[ray]``) and ``ray_actor`` (the actor that runs on a
Ray node).

Placement: the pool starts one template process with the server (``Popen`` of
``subprocess_host.apps.zygote``); it imports zmq, msgspec and the kernel machinery once and
rehearses a kernel, then forks each app process, which speaks exactly the ``Popen`` protocol
(JSON on its stdin, ``APP_READY`` on its stdout: the server passes it both pipe ends).  An app
with its own interpreter (``python=``) is started with ``Popen``
(:class:`~subprocess_host.apps.provisioner.LocalProvisioner`).  May import :mod:`lifecycle`,
:mod:`subprocess_host.client`, :mod:`subprocess_host.server`, pyzmq, msgspec, starlette and
uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from subprocess_host.apps.asgi import AppServer, AppServerBuilder, create_asgi_app
    from subprocess_host.apps.pool import AppPool
    from subprocess_host.apps.provisioner import (
        AppEndpoints,
        AppProvisioner,
        AppSpec,
        LocalProvisioner,
    )

__all__ = ["AppEndpoints", "AppPool", "AppProvisioner", "AppServer", "AppServerBuilder", "AppSpec",
           "LocalProvisioner", "create_asgi_app"]

_SOURCES = {
    "AppServer": "asgi", "AppServerBuilder": "asgi", "create_asgi_app": "asgi", "AppPool": "pool",
    "AppEndpoints": "provisioner", "AppProvisioner": "provisioner", "AppSpec": "provisioner",
    "LocalProvisioner": "provisioner",
}

# Not lifecycle.import_hooks.lazy_exports: the app process imports this package before its
# ready line, and that helper's imports would cost it about 30 ms.


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first use (PEP 562)."""
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{_SOURCES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SOURCES})
