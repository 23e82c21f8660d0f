"""Where server instances find the app processes they share: :class:`AppDirectory`.

Server instances are relays: several of them (behind HAProxy) serve the same apps, and every
one must reach the *same* app process of an app, whose sessions any instance can attach to.
An :class:`AppDirectory` answers "the app process of this notebook, launching it if nobody
has" and hands out the CURVE client key pair every instance of the deployment uses (app
processes accept exactly that one client key).

An app is named by :func:`app_key`: a hash of the notebook's resolved path and of its
content, so a changed notebook gets a fresh app process (the old one idles out).

Implementations:

* :class:`LocalDirectory`: app processes on this machine; one JSON entry file per app (and the
  key pair) in a private directory under the user's runtime directory (``platformdirs``),
  serialised with ``flock``; a launched app is detached (its own session, stderr to
  ``<key>.log``) and removes its entry when it exits.
* the Ray provisioner's directory (``amphikernel[ray]``): detached named actors, the same
  interface.
"""

from __future__ import annotations

import abc
import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import zmq

from subprocess_host.apps import wire
from subprocess_host.apps.provisioner import AppProvisioner, AppSpec, LocalProvisioner


def app_key(notebook: Path) -> str:
    """The directory key of an app: SHA-256 (hex, 32 characters) of the notebook's resolved
    path and of its bytes.

    Raises:
        OSError: the notebook cannot be read.
    """
    path = Path(notebook).resolve()
    content = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashlib.sha256(f"{path}\0{content}".encode()).hexdigest()[:32]


class AppDirectory(abc.ABC):
    """The app processes several server instances share (see the module docstring)."""

    @abc.abstractmethod
    def client_keypair(self) -> tuple[bytes, bytes]:
        """The deployment's CURVE client key pair ``(public, secret)`` (Z85 bytes), made once
        and then the same for every instance."""

    @abc.abstractmethod
    def get_or_launch(self, key: str, spec: AppSpec) -> AppProvisioner:
        """The provisioner of app ``key``'s running process (``endpoints`` set), launching
        it from ``spec`` when none runs.  At most one process per key runs at a time, whichever
        instance asks.  Blocking: call it in a worker thread.

        Raises:
            subprocess_host.apps.provisioner.AppStartError: the app process did not start.
        """

    @abc.abstractmethod
    def forget(self, key: str, pid: int) -> None:
        """The app process ``pid`` of ``key`` is gone: drop its entry (if it is still the
        entry), so the next :meth:`get_or_launch` launches a fresh one."""

    def entries(self) -> dict[str, dict[str, Any]]:
        """Every app registered now: key -> what :meth:`AppProvisioner.info` gave."""
        return {}


def default_root() -> Path:
    """``<user runtime dir>/amphikernel/apps`` (``platformdirs``)."""
    import platformdirs

    return Path(platformdirs.user_runtime_dir("amphikernel")) / "apps"


class LocalDirectory(AppDirectory):
    """App processes on this machine, registered in files under ``root`` (see the module
    docstring).

    Args:
        root: the registry directory (created 0700; default :func:`default_root`).
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        fd = os.open(self.root / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def client_keypair(self) -> tuple[bytes, bytes]:
        path = self.root / "client-key.json"
        with self._locked("client-key"):
            data = self._read(path)
            if data is None or not {"public", "secret"} <= data.keys():
                public, secret = zmq.curve_keypair()
                data = {"public": public.decode("ascii"), "secret": secret.decode("ascii")}
                self._write(path, data)
        return data["public"].encode("ascii"), data["secret"].encode("ascii")

    def get_or_launch(self, key: str, spec: AppSpec) -> AppProvisioner:
        entry_path = self.root / f"{key}.json"
        with self._locked(key):
            entry = self._read(entry_path)
            pid = entry.get("pid") if entry is not None else None
            if isinstance(pid, int) and pid > 0 and wire.pid_alive(pid) and entry is not None:
                return LocalProvisioner.from_info(entry)
            provisioner = LocalProvisioner()
            spec = replace(spec, detached=True, registry_entry=str(entry_path),
                           log_file=str(self.root / f"{key}.log"))
            provisioner.launch(spec)
            self._write(entry_path, {**provisioner.info(), "name": spec.name, "notebook": str(spec.notebook)})
            return provisioner

    def forget(self, key: str, pid: int) -> None:
        entry_path = self.root / f"{key}.json"
        with self._locked(key):
            entry = self._read(entry_path)
            if entry is not None and entry.get("pid") == pid:
                with contextlib.suppress(OSError):
                    entry_path.unlink()

    def entries(self) -> dict[str, dict[str, Any]]:
        found = {}
        for path in self.root.glob("*.json"):
            if path.name != "client-key.json" and (data := self._read(path)) is not None:
                found[path.stem] = data
        return found


__all__ = ["AppDirectory", "LocalDirectory", "app_key", "default_root"]
