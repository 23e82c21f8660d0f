"""``_esm``/``_css`` sources of widget states delivered as virtual files.

When the kernel has a virtual-file store, a non-empty source string is stored as a virtual
file owned by the cell that created the widget (released when that cell re-runs or is
deleted) and the state value becomes ``{"url", "mimetype"}``; widgets of one cell with the
same source share one file.  Without a store the value stays the inline source string.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from typing import Any

from lifecycle import context as context_mod

log = logging.getLogger("amphikernel.widgets")

_ASSETS: dict[str, tuple[str, str]] = {"_esm": ("js", "text/javascript"), "_css": ("css", "text/css")}
"""State keys delivered as virtual files: key -> (file extension, MIME type)."""

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class WidgetAssets:
    """The widget asset files of one kernel (owned by its :class:`WidgetManager`).

    Args:
        ctx: the kernel's context (its virtual-file store is used).
        lock: the manager's lock (re-entrant); guards every table here.
    """

    def __init__(self, ctx: context_mod.KernelContext, lock: threading.RLock) -> None:
        self.ctx = ctx
        self._lock = lock
        self._names: dict[str, str] = {}  # model id -> asset file stem
        self._model_assets: dict[str, dict[str, tuple[str | None, str, str]]] = {}
        self._assets: dict[tuple[str | None, str, str], list[Any]] = {}  # key -> [url, refs]

    def name_model(self, model_id: str, state: dict[str, Any]) -> None:
        """Record the file stem of a model's assets from its ``open`` state."""
        name = state.get("_anywidget_id") or state.get("_model_name") or "widget"
        stem = _UNSAFE_NAME.sub("_", str(name))
        stem = re.sub(r"\.{2,}", ".", stem).strip(".")[:120] or "widget"
        with self._lock:
            self._names[model_id] = stem

    def externalise(self, comm: Any, state: dict[str, Any]) -> dict[str, Any]:
        """Replace ``_esm``/``_css`` sources by virtual-file references when possible."""
        store = self.ctx.virtual_files
        if store is None:
            return state
        for key, (ext, mimetype) in _ASSETS.items():
            source = state.get(key)
            if isinstance(source, str) and source:
                url = self._asset_url(store, comm, key, source, ext, mimetype)
                if url is not None:
                    state[key] = {"url": url, "mimetype": mimetype}
        return state

    def _asset_url(
        self, store: Any, comm: Any, key: str, source: str, ext: str, mimetype: str
    ) -> str | None:
        model_id = comm.comm_id
        payload = source.encode("utf-8")
        asset = (comm.owner, key, hashlib.sha256(payload).hexdigest())
        with self._lock:
            per_model = self._model_assets.setdefault(model_id, {})
            previous = per_model.get(key)
            entry = self._assets.get(asset)
            if entry is not None and entry[0] in store:
                if previous == asset:
                    return entry[0]
                entry[1] += 1
            else:
                try:
                    file = store.create(
                        payload, f"{self._names.get(model_id, 'widget')}.{ext}", mimetype,
                        owner=comm.owner,
                    )
                except Exception as exc:  # store shut down, bad name...: deliver inline
                    log.warning("widget %s: %s kept inline (%r)", model_id, key, exc)
                    return None
                if previous == asset:  # the owner re-ran and its file was released
                    previous = None
                entry = self._assets[asset] = [file.url, 1]
            per_model[key] = asset
            if previous is not None:
                self._drop_asset(previous)
            return entry[0]

    def _drop_asset(self, asset: tuple[str | None, str, str]) -> None:
        entry = self._assets.get(asset)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del self._assets[asset]
            store = self.ctx.virtual_files
            if store is not None and not store.closed:
                store.release(entry[0])

    def forget_model(self, model_id: str) -> None:
        """A model closed: drop its name and release its files."""
        with self._lock:
            self._names.pop(model_id, None)
            for key in self._model_assets.pop(model_id, {}).values():
                self._drop_asset(key)

    def forget_released(self, cell_id: str | None) -> None:
        """Forget the files of ``cell_id`` the store already released with its owner's files."""
        with self._lock:
            for asset in [a for a in self._assets if a[0] == cell_id]:
                if self._assets[asset][0] not in (self.ctx.virtual_files or ()):
                    del self._assets[asset]  # released with its owner's files

    def clear(self) -> None:
        """Drop every reference (kernel teardown; the store releases the files)."""
        with self._lock:
            self._names.clear()
            self._model_assets.clear()
            self._assets.clear()
