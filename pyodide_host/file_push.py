"""Virtual files pushed to the page: for pages that have no service worker to serve ``@file/``.

A documentation page with islands cannot register a service worker for the whole site (its
scope would have to cover the site, and it would cross-origin-isolate every page of it), so
nobody can answer a request for ``@file/<id>-<name>``.  Instead, once the page asks for it with
the host-level command ``push-virtual-files``, the session sends the bytes of every virtual
file of its kernel to the page as it is created::

    {"type": "virtual-file-data", "url": "@file/<id>-<name>", "filename": str,
     "mimetype": str, "size": int (bytes), "data": bin}

The frame is sent by the store's listener, synchronously inside ``create``: after the kernel's
``virtual-file`` notice and before any output that carries the URL, on the same ordered
channel.  The page turns the bytes into a ``blob:`` URL, substitutes it into outputs that name
the ``@file/`` URL, and revokes it when the kernel announces the file's release (its cell
re-ran or was deleted) or a new kernel starts (``web/src/transport/blob-files.ts``).

Files that exist when pushing is turned on are sent at once, oldest first.  Imports only the
standard library and :mod:`lifecycle` (runs on CPython too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pyodide_host.frames import host_frame

__all__ = ["PUSH_COMMAND", "PUSH_FRAME", "FilePusher"]

PUSH_COMMAND = "push-virtual-files"
"""Host-level command (page -> session) that turns pushing on for this session's kernels."""

PUSH_FRAME = "virtual-file-data"
"""Host-level message (session -> page) carrying one virtual file's bytes."""

log = logging.getLogger("amphikernel.pyodide")


class FilePusher:
    """Sends each virtual file of the current kernel to the page once pushing is enabled.

    Args:
        send_frame: sends one msgpack frame (``bytes``) to the page, in order with the
            kernel's notifications.
    """

    def __init__(self, send_frame: Callable[[bytes], None]) -> None:
        self._send_frame = send_frame
        self.enabled = False
        self._store: Any = None

    def enable(self, store: Any) -> None:
        """Turn pushing on (idempotent) and attach to ``store`` (the current kernel's
        :class:`~lifecycle.virtual_files.VirtualFileStore`, or ``None`` while it starts)."""
        self.enabled = True
        if store is not None:
            self.attach(store)

    def attach(self, store: Any) -> None:
        """Watch ``store`` (a new kernel's): when enabled, send its existing files now and
        each new one as it is created.  ``None`` (virtual files disabled) is ignored."""
        if not self.enabled or store is None or store is self._store:
            return
        self._store = store

        def listener(event: str, file: Any) -> None:
            if event == "created":
                self._push(store, file)

        store.listeners.append(listener)
        for file in store.files():
            self._push(store, file)

    def _push(self, store: Any, file: Any) -> None:
        try:
            data = store.read(file.url)
        except KeyError:  # VirtualFileNotFoundError: released meanwhile
            return
        except Exception:
            log.exception("virtual file %s could not be read for the page", file.url)
            return
        self._send_frame(
            host_frame(
                PUSH_FRAME,
                url=file.url,
                filename=file.filename,
                mimetype=file.mimetype,
                size=file.size,
                data=data,
            )
        )
