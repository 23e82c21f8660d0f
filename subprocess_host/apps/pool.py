"""The pool of app processes of one server: one per notebook app, started on first use.

:class:`AppPool` keeps an :class:`AppInstance` (provisioner + :class:`AppLink`) per app name.
:meth:`AppPool.acquire` returns the running instance, launching it (in a worker thread) when
there is none; concurrent callers share one launch.  A watcher task notices when an app
process ends; then its link is closed, the process reaped, the shared-memory segments it left
(``/dev/shm/amphi_<pid>_*``) unlinked, and every kernel of that app told (they report "this
app restarted"); the next :meth:`acquire` launches a fresh process.  :meth:`close` stops every
app process: ``shutdown`` on ``mgmt`` and its ``ok`` (the handshake), sockets closed with
linger 0, then the exit is awaited and ``kill -9`` is the last resort after
:data:`STOP_TIMEOUT` seconds.

Shared app processes (several server instances, see :mod:`subprocess_host.apps.directory`):
with a ``directory`` the pool asks it for each app's process (found or launched, detached)
and uses the directory's CURVE client key pair; :meth:`close` then only closes this
instance's links (the app processes serve the other instances, and stop by themselves once
unused for their grace period).  ``instance_id`` is this instance's routing id.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from subprocess_host.apps import wire
from subprocess_host.apps.directory import AppDirectory, app_key
from subprocess_host.apps.link import AppLink
from subprocess_host.apps.provisioner import (
    AppProvisioner,
    AppSpec,
    AppStartError,
    LocalProvisioner,
)
from subprocess_host.apps.zygote import Zygote, ZygoteProvisioner

log = logging.getLogger("amphikernel.apps")

STOP_TIMEOUT = 3.0
"""Seconds an app process gets to stop after ``shutdown`` before it is killed."""

WATCH_PERIOD = 0.1
"""Seconds between liveness checks of an app process."""


@dataclass
class AppInstance:
    """One running app process."""

    name: str
    provisioner: AppProvisioner
    link: AppLink
    pid: int
    kernels: dict[str, Any] = field(default_factory=dict)  # session id -> AppKernel
    dead: bool = False
    watcher: asyncio.Task[None] | None = None
    key: str = ""


def unlink_segments(pid: int) -> int:
    """Unlink the shared-memory segments an app process ``pid`` left behind
    (``/dev/shm/amphi_<pid in hex>_*``); returns how many."""
    count = 0
    for path in glob.glob(f"/dev/shm/amphi_{pid:x}_*"):
        with contextlib.suppress(OSError):
            os.unlink(path)
            count += 1
    return count


class AppPool:
    """The app processes of one server.

    Args:
        provisioner_factory: makes the provisioner of a new app process (default
            :class:`LocalProvisioner`).
        ready_timeout: seconds an app process may take to print its ready line.
        template: fork app processes from a warm template process (no ``directory``).
        directory: share app processes with other server instances through it.
        instance_id: this server instance's id (1-64 URL-safe characters; default random).
        grace: seconds a session without a reader is kept by its app process.
    """

    def __init__(self, provisioner_factory: Callable[[], AppProvisioner] | None = None,
                 ready_timeout: float = 30.0, template: bool = True, *, directory: AppDirectory | None = None,
                 instance_id: str | None = None, grace: float = 60.0) -> None:
        import secrets

        self.ctx = zmq.asyncio.Context()
        self.directory = directory
        self.instance_id = instance_id or secrets.token_hex(6)
        self.grace = grace
        public, secret = directory.client_keypair() if directory is not None else zmq.curve_keypair()
        self.public_key, self.secret_key = public, secret
        self._factory = provisioner_factory
        self.zygote: Zygote | None = None
        if provisioner_factory is None and template and directory is None and hasattr(os, "fork"):
            self.zygote = Zygote(ready_timeout)  # warms up now, while the server starts
            threading.Thread(target=self._warm, name="amphi-zygote-warm", daemon=True).start()
        self.ready_timeout = ready_timeout
        self.instances: dict[str, AppInstance] = {}
        self._launching: dict[str, asyncio.Task[AppInstance]] = {}
        self.closing = False
        self.restarts = 0

    def _warm(self) -> None:
        try:
            if self.zygote is not None:
                self.zygote.wait_ready()
        except AppStartError as exc:
            log.warning("%s; app processes are started with Popen", exc)

    def _provisioner(self, python: str | None) -> AppProvisioner:
        """The factory's provisioner; else a fork of the template (this interpreter) or a
        :class:`LocalProvisioner` (another interpreter, or no template)."""
        if self._factory is not None:
            return self._factory()
        if python is None and self.zygote is not None:
            try:
                self.zygote.wait_ready()
                return ZygoteProvisioner(self.zygote)
            except AppStartError:
                pass
        return LocalProvisioner()

    async def acquire(self, name: str, notebook: Path, python: str | None = None, semantics: str = "script") -> AppInstance:
        """The running instance of app ``name``, launched if needed.

        Raises:
            AppStartError: the app process did not become ready.
            RuntimeError: the pool is closing.
        """
        if self.closing:
            raise RuntimeError("the server is shutting down")
        instance = self.instances.get(name)
        if instance is not None and not instance.dead:
            return instance
        task = self._launching.get(name)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._launch(name, notebook, python, semantics))
            self._launching[name] = task
            task.add_done_callback(lambda _t: self._launching.pop(name, None))
        return await asyncio.shield(task)

    async def _launch(self, name: str, notebook: Path, python: str | None, semantics: str) -> AppInstance:
        spec = AppSpec(name=name, notebook=notebook, server_public_key=self.public_key.decode("ascii"),
                       python=python, semantics=semantics, ready_timeout=self.ready_timeout, grace=self.grace)
        key = ""
        if self.directory is not None:
            key = await asyncio.to_thread(app_key, notebook)
            provisioner = await asyncio.to_thread(self.directory.get_or_launch, key, spec)
            endpoints = provisioner.endpoints
            if endpoints is None:
                raise AppStartError(f"app {name!r}: the directory gave no endpoints")
        else:
            provisioner = await asyncio.to_thread(self._provisioner, python)
            endpoints = await asyncio.to_thread(provisioner.launch, spec)
        instance: AppInstance | None = None

        def on_event(event: Any) -> None:
            if instance is None:
                return
            if isinstance(event, wire.KernelEnded):
                kernel = instance.kernels.get(event.session)
                if kernel is not None:
                    kernel.ended(event.returncode, event.reason)
            elif isinstance(event, wire.Dropped):
                log.info("app %s: %d command frame(s) for unknown sessions dropped", name, event.total)

        link = AppLink(self.ctx, endpoints, self.public_key, self.secret_key, on_event, name=name,
                       instance=self.instance_id)
        instance = AppInstance(name=name, provisioner=provisioner, link=link, pid=endpoints.pid, key=key)
        try:
            await link.wait_routed(self.ready_timeout)
        except (TimeoutError, RuntimeError) as exc:
            await self._stop(instance)
            raise AppStartError(str(exc)) from None
        if self.closing:
            await self._stop(instance)
            raise RuntimeError("the server is shutting down")
        instance.watcher = asyncio.get_running_loop().create_task(self._watch(instance))
        self.instances[name] = instance
        log.info("app %s: process %d ready", name, endpoints.pid)
        return instance

    async def _watch(self, instance: AppInstance) -> None:
        while instance.provisioner.poll() is None and not instance.dead:
            await asyncio.sleep(WATCH_PERIOD)
        if instance.dead:  # stopped by us
            return
        status = instance.provisioner.poll()
        log.warning("app %s: process %d ended with status %s; it restarts on the next reader",
                    instance.name, instance.pid, status)
        # The death is reported before the slower release (closing the link, reaping): pages
        # hear of it within a second even on a busy machine.  The instance leaves the pool
        # (and the directory) first, so a reader that comes back at once gets a fresh process.
        instance.dead = True
        if self.instances.get(instance.name) is instance:
            del self.instances[instance.name]
        instance.link.fail_pending(f"app {instance.name} ended")
        if self.directory is not None and instance.key:
            await asyncio.to_thread(self.directory.forget, instance.key, instance.pid)
        self.restarts += 1
        reason = (f"this app restarted: its process ended unexpectedly (status {status}); "
                  "a fresh one was started")
        for kernel in list(instance.kernels.values()):
            kernel.app_died(status, reason)
        await self._cleanup(instance)

    async def _cleanup(self, instance: AppInstance) -> None:
        instance.dead = True
        if self.instances.get(instance.name) is instance:
            del self.instances[instance.name]
        instance.link.fail_pending(f"app {instance.name} ended")
        await instance.link.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(instance.provisioner.wait, STOP_TIMEOUT)
        unlink_segments(instance.pid)

    async def _stop(self, instance: AppInstance) -> None:
        """The handshake, then linger 0, then kill -9 after :data:`STOP_TIMEOUT` (shared
        app processes: only this instance's link is closed)."""
        instance.dead = True
        if self.directory is not None:
            await instance.link.close()
            if instance.watcher is not None:
                instance.watcher.cancel()
                await asyncio.gather(instance.watcher, return_exceptions=True)
            if self.instances.get(instance.name) is instance:
                del self.instances[instance.name]
            return
        if instance.provisioner.poll() is None:
            with contextlib.suppress(Exception):
                await instance.link.request(wire.Shutdown(), timeout=STOP_TIMEOUT)
        await instance.link.close()
        try:
            await asyncio.to_thread(instance.provisioner.wait, STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("app %s: process %d did not exit; killing it", instance.name, instance.pid)
            instance.provisioner.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(instance.provisioner.wait, STOP_TIMEOUT)
        unlink_segments(instance.pid)
        if instance.watcher is not None:
            instance.watcher.cancel()
            await asyncio.gather(instance.watcher, return_exceptions=True)
        if self.instances.get(instance.name) is instance:
            del self.instances[instance.name]

    async def stop_app(self, name: str) -> None:
        """Stop app ``name``'s process if it runs (its kernels are told it ended)."""
        instance = self.instances.get(name)
        if instance is not None:
            await self._stop(instance)

    async def close(self) -> None:
        """Stop every app process (idempotent) and end the ZeroMQ context."""
        self.closing = True
        for task in list(self._launching.values()):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        await asyncio.gather(*(self._stop(i) for i in list(self.instances.values())), return_exceptions=True)
        self.ctx.destroy(linger=0)
        if self.zygote is not None:
            await asyncio.to_thread(self.zygote.close)


__all__ = ["AppInstance", "AppPool", "AppStartError", "unlink_segments"]
