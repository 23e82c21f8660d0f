"""Sessions: one kernel, the notebook it serves, and the tabs watching it (no HTTP here).

A :class:`Session` fans the kernel's notification frames out, unchanged, to every attached
:class:`Tab`, checks every frame a tab sends against its mode
(:func:`subprocess_host.server.policy.classify`), handles the host-level requests itself, and
keeps what a (re)connecting tab needs to resynchronise (:class:`ReplayState`).

* :class:`EditSession` (``amphi edit``): one kernel subprocess per notebook, shared by every tab
  on it; the kernel starts with the first tab and lives until the server stops (a reload does
  not lose state); tabs may save the notebook and restart the kernel.
* :class:`RunSession` (``amphi run``): one kernel thread per WebSocket connection; every code
  cell runs when it starts; the reader may only send UI/widget updates, input replies and
  interrupts; the kernel stops when the connection closes.

Everything runs on the event loop's thread (kernel callbacks included), so no locking is
needed beyond the per-session restart lock.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any, Protocol

from lifecycle import protocol
from lifecycle.outputs import OutputCollector
from subprocess_host.server.config import Mode
from subprocess_host.server.kernels import KernelHandle, stop_kernel
from subprocess_host.server.messages import (
    KernelRestarted,
    NotebookChangedOnDisk,
    NotebookSaved,
    ReloadNotebook,
    RestartKernel,
    SaveNotebook,
    encode_host,
)
from subprocess_host.server.notebook import ChangedOnDisk, NotebookDocument
from subprocess_host.server.policy import Forward, HostRequest, Refuse, classify
from subprocess_host.server.replay import ReplayState
from subprocess_host.server.vfiles import AnnouncedFiles, FileSource, StoreFiles

log = logging.getLogger("amphikernel.server")


class Tab(Protocol):
    """One connected page, as a session sees it.

    ``send`` queues a frame and returns at once (it must not raise; a closed tab drops it);
    ``close`` ends the connection with a WebSocket close code.
    """

    name: str

    def send(self, frame: bytes) -> None: ...

    def close(self, code: int = 1000, reason: str = "") -> None: ...


KernelFactory = Callable[[], KernelHandle]


class Session:
    """A kernel, its notebook and its tabs (base of :class:`EditSession` and
    :class:`RunSession`).

    Args:
        document: the notebook.
        kernel_factory: builds the (unstarted) kernel.
        ready_timeout: seconds the kernel may take to become ready.
        record: keep a :class:`ReplayState` for tabs that connect later.
    """

    mode: Mode = "edit"

    def __init__(
        self,
        document: NotebookDocument,
        kernel_factory: KernelFactory,
        *,
        ready_timeout: float = 60.0,
        record: bool = True,
    ) -> None:
        self.id = secrets.token_urlsafe(12)
        self.document = document
        self.tabs: list[Tab] = []
        self.replay: ReplayState | None = ReplayState() if record else None
        self.kernel: KernelHandle | None = None
        self.kernel_dead = False
        self.closing = False
        self._kernel_factory = kernel_factory
        self._ready_timeout = ready_timeout
        self._start_task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._waiting_ready = False
        self._closed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ tabs
    def attach(self, tab: Tab) -> None:
        """Add a tab: it gets the ``notebook`` snapshot, then the replay, then live frames
        (nothing can slip in between: this does not yield to the event loop)."""
        tab.send(encode_host(self.document.snapshot(self.mode)))
        if self.replay is not None:
            for frame in self.replay.frames(self.document.cell_ids()):
                tab.send(frame)
        self.tabs.append(tab)

    def detach(self, tab: Tab) -> None:
        """Remove a tab (its connection closed); the kernel goes on."""
        if tab in self.tabs:
            self.tabs.remove(tab)

    def broadcast(self, frame: bytes, exclude: Tab | None = None) -> None:
        """Send one frame to every tab (but ``exclude``)."""
        for tab in list(self.tabs):
            if tab is not exclude:
                tab.send(frame)

    # ---------------------------------------------------------------- kernel
    def start(self) -> None:
        """Start the kernel in the background (idempotent)."""
        if self._start_task is None and not self.closing:
            self._start_task = asyncio.get_running_loop().create_task(self._start_kernel())

    async def _start_kernel(self) -> None:
        if self.closing:
            return
        kernel = self._kernel_factory()
        kernel.on_notification(self._on_notification)
        self.kernel = kernel
        try:
            await kernel.start()
        except Exception as exc:
            self._start_failed(exc)
            return
        if not await self._wait_ready(kernel):
            return
        self._ready.set()
        await self._on_kernel_ready(kernel)

    async def _wait_ready(self, kernel: KernelHandle) -> bool:
        """Wait for the kernel's ready line; report a failure.  Only this wait is cancelled
        by :meth:`close` (never a spawn in progress)."""
        self._waiting_ready = True
        try:
            await kernel.wait_ready(self._ready_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._start_failed(exc)
            return False
        finally:
            self._waiting_ready = False
        return True

    def _start_failed(self, exc: BaseException) -> None:
        log.error("%s session %s: the kernel did not start: %s", self.mode, self.id, exc)
        self._ready.set()
        if not self.kernel_dead:
            note = protocol.KernelDied(returncode=None, reason=f"the kernel did not start: {exc}")
            self._on_notification(note, protocol.encode(note))

    async def _on_kernel_ready(self, kernel: KernelHandle) -> None:
        """Hook: the kernel has just become ready."""

    def _on_notification(self, note: Any, frame: bytes) -> None:
        """Every frame from the kernel: bookkeeping, then to every tab, unchanged."""
        if self.closing or isinstance(note, protocol.KernelStopped):
            return
        if isinstance(note, protocol.KernelDied):
            self.kernel_dead = True
        elif isinstance(note, protocol.KernelReady):
            self.kernel_dead = False
        self._record(note, frame)
        self.broadcast(frame)

    def _record(self, note: Any, frame: bytes) -> None:
        if self.replay is not None:
            self.replay.record(note, frame)

    # ------------------------------------------------------------ tab frames
    async def handle_frame(self, tab: Tab, frame: bytes) -> None:
        """Act on one frame from ``tab``: refuse it (``kernel-error`` to that tab only),
        handle a host request, or forward the raw frame to the kernel (a kernel thread,
        ``takes_decoded``, gets the command the check decoded: no second decode)."""
        decision = classify(self.mode, frame)
        if isinstance(decision, Refuse):
            # Counted per tab; logged and answered at a limited rate (protocol.BadFrames).
            refused = getattr(tab, "refused", None)
            if refused is not None and not refused.admit():
                return
            log.warning("%s session %s: refused a frame from tab %s: %s",
                        self.mode, self.id, tab.name, decision.error.message)
            tab.send(protocol.encode(decision.error))
            return
        if isinstance(decision, HostRequest):
            await self._host_request(tab, decision.message)
            return
        await self._forward(tab, decision, frame)

    async def _forward(self, tab: Tab, decision: Forward, frame: bytes) -> None:
        command_type = type(decision.command).__struct_config__.tag
        if not self._ready.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), self._ready_timeout + 5)
            except asyncio.TimeoutError:
                pass
        kernel = self.kernel
        if kernel is None or self.kernel_dead or self.closing:
            tab.send(self._not_running(command_type))
            return
        try:
            if getattr(kernel, "takes_decoded", False):  # a kernel thread: no second decode
                await kernel.send(decision.command)
            else:
                await kernel.send_frame(frame)
        except RuntimeError as exc:
            log.info("%s session %s: %s not delivered: %s", self.mode, self.id, command_type, exc)
            tab.send(self._not_running(command_type))
            return
        self._after_forward(tab, decision.command)

    def _not_running(self, command_type: str) -> bytes:
        hint = " (send 'restart-kernel')" if self.mode == "edit" else ""
        return protocol.encode(
            protocol.KernelError(message=f"the kernel is not running{hint}", command_type=command_type)
        )

    def _after_forward(self, tab: Tab, command: Any) -> None:
        """Hook: ``command`` from ``tab`` reached the kernel."""

    async def _host_request(self, tab: Tab, message: Any) -> None:
        """Hook: a host-level request (only edit sessions accept any)."""
        tab.send(protocol.encode(protocol.KernelError(message="not supported", command_type=None)))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --------------------------------------------------------------- files
    def find_file(self, file_id: str, filename: str) -> FileSource | None:
        """A virtual file this session's kernel created, or ``None``."""
        return None

    # ---------------------------------------------------------------- close
    async def close(self) -> None:
        """Stop the kernel (waiting for a spawn in progress, cancelling a wait for ready)
        and close every tab.  Idempotent; concurrent callers all wait for the end."""
        if self.closing:
            await self._closed.wait()
            return
        self.closing = True
        self._ready.set()  # frames waiting for the kernel now get "not running"
        try:
            for task in [*self._tasks, *([self._start_task] if self._start_task else [])]:
                await self._settle(task)
            if self.kernel is not None:
                try:
                    await stop_kernel(self.kernel)
                except Exception:
                    log.exception("%s session %s: stopping the kernel failed", self.mode, self.id)
            for tab in list(self.tabs):
                tab.close(1001, "the session has ended")
            self.tabs.clear()
        finally:
            self._closed.set()

    async def _settle(self, task: asyncio.Task[Any]) -> None:
        """Let ``task`` end: cancel it while it only waits for the kernel to be ready."""
        while not task.done():
            if self._waiting_ready:
                task.cancel()
            await asyncio.wait({task}, timeout=0.05)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s session %s: task failed: %r", self.mode, self.id, task.exception())


class EditSession(Session):
    """The session of one notebook in edit mode (see the module docstring)."""

    mode: Mode = "edit"

    def __init__(self, document: NotebookDocument, kernel_factory: KernelFactory, *, ready_timeout: float = 60.0) -> None:
        super().__init__(document, kernel_factory, ready_timeout=ready_timeout, record=True)
        self.files = AnnouncedFiles()
        self.outputs: OutputCollector | None = (
            OutputCollector() if document.path.suffix.lower() == ".ipynb" else None
        )
        self._restart_lock = asyncio.Lock()
        self._restarting = False
        self._watcher: asyncio.Task[None] | None = None

    # ------------------------------------------------------- changes on disk
    DISK_POLL_INTERVAL = 1.0
    """Seconds between two looks (one ``stat``) at the notebook file."""

    def attach(self, tab: Tab) -> None:
        super().attach(tab)
        if self.document.changed_on_disk:
            tab.send(self._changed_frame())
        if self._watcher is None and not self.closing:
            self._watcher = asyncio.get_running_loop().create_task(self._watch_disk())

    def _changed_frame(self, error: str = "", request_id: str = "") -> bytes:
        path = self.document.path
        return encode_host(NotebookChangedOnDisk(
            path=str(path), deleted=not path.exists(), error=error, request_id=request_id))

    async def _watch_disk(self) -> None:
        """Tell every tab when another program changes the notebook file (never overwritten
        silently: :meth:`NotebookDocument.save` refuses until a reload or an overwrite)."""
        while not self.closing:
            await asyncio.sleep(self.DISK_POLL_INTERVAL)
            try:
                changed = await asyncio.to_thread(self.document.check_disk)
            except Exception:  # pragma: no cover - never ends the watch
                log.exception("edit session %s: watching %s failed", self.id, self.document.path)
                continue
            if changed and not self.closing:
                log.warning("edit session %s: %s was changed on disk", self.id, self.document.path)
                self.broadcast(self._changed_frame())

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        await super().close()

    def _record(self, note: Any, frame: bytes) -> None:
        if isinstance(note, protocol.KernelReady) and self._restarting and self.replay is not None:
            self._forget_kernel_state()  # the new kernel: nothing of the old one is replayed
        super()._record(note, frame)
        if isinstance(note, protocol.VirtualFileNotice):
            self.files.note(note)
        elif isinstance(note, protocol.KernelDied):
            self.files.clear()
        if self.outputs is not None:
            self.outputs.add(note)

    def _forget_kernel_state(self) -> None:
        if self.replay is not None:
            self.replay.reset()
        self.files.clear()
        if self.outputs is not None:
            self.outputs = OutputCollector()

    def _after_forward(self, tab: Tab, command: Any) -> None:
        replay = self.replay
        assert replay is not None
        if isinstance(command, protocol.InputReply):
            replay.answered(command.request_id)
        elif isinstance(command, protocol.UpdateUIElement):
            for frame in replay.record_ui_update(command.values):
                self.broadcast(frame, exclude=tab)
        elif isinstance(command, protocol.WidgetModel):
            frame = replay.record_widget_update(command)
            if frame is not None:
                self.broadcast(frame, exclude=tab)
        elif isinstance(command, (protocol.ExecuteCells, protocol.DeleteCells, protocol.SetConfig)):
            if isinstance(command, protocol.DeleteCells):
                replay.forget_cells(command.cell_ids)
            if self.document.apply(command):
                self.broadcast(encode_host(self.document.snapshot(self.mode)), exclude=tab)

    async def _host_request(self, tab: Tab, message: Any) -> None:
        if isinstance(message, SaveNotebook):
            await self._save(tab, message)
        elif isinstance(message, RestartKernel):
            self._spawn(self.restart(message.request_id))
        elif isinstance(message, ReloadNotebook):
            await self._reload(tab, message)

    async def _reload(self, tab: Tab, message: ReloadNotebook) -> None:
        try:
            await asyncio.to_thread(self.document.reload)
        except (ValueError, OSError) as exc:  # NotebookFormatError is a ValueError
            log.warning("edit session %s: reloading %s failed: %s", self.id, self.document.path, exc)
            tab.send(self._changed_frame(error=str(exc), request_id=message.request_id))
            return
        log.info("reloaded %s from disk", self.document.path)
        self.broadcast(encode_host(self.document.snapshot(self.mode)))

    async def _save(self, tab: Tab, message: SaveNotebook) -> None:
        path = str(self.document.path)
        try:
            await self.document.save(message.cells, self.outputs, overwrite=message.overwrite)
        except (ValueError, OSError, ChangedOnDisk) as exc:  # NotebookFormatError is a ValueError
            log.warning("edit session %s: saving %s failed: %s", self.id, path, exc)
            conflict = isinstance(exc, ChangedOnDisk)
            tab.send(encode_host(NotebookSaved(
                ok=False, error=str(exc), request_id=message.request_id, path=path, conflict=conflict)))
            return
        log.info("saved %s", path)
        tab.send(encode_host(NotebookSaved(ok=True, request_id=message.request_id, path=path)))
        self.broadcast(encode_host(self.document.snapshot(self.mode)), exclude=tab)

    async def restart(self, request_id: str = "") -> bool:
        """Stop the kernel (alive or dead) and start a new one; every tab gets
        ``kernel-restarted``.  Frames tabs send meanwhile wait for the new kernel.  Returns
        whether the new kernel is ready."""
        async with self._restart_lock:
            if self.closing:
                return False
            if self._start_task is not None:
                await self._settle(self._start_task)
            kernel = self.kernel
            if kernel is None:
                return False
            self._ready.clear()
            self._restarting = True
            error = ""
            try:
                await kernel.shutdown()
                if self.closing:
                    return False
                self._forget_kernel_state()
                self.kernel_dead = False
                try:
                    await kernel.start()
                except Exception as exc:
                    error = str(exc)
                else:
                    self._waiting_ready = True  # close() may cancel this wait, never a spawn
                    try:
                        await kernel.wait_ready(self._ready_timeout)
                    except Exception as exc:
                        error = str(exc)
                    finally:
                        self._waiting_ready = False
            finally:
                self._restarting = False
            if error:
                log.error("edit session %s: restart failed: %s", self.id, error)
                if not self.kernel_dead:
                    note = protocol.KernelDied(returncode=None, reason=f"the kernel did not start: {error}")
                    self._on_notification(note, protocol.encode(note))
            self.broadcast(encode_host(KernelRestarted(ok=not error, error=error, request_id=request_id)))
            self._ready.set()
            return not error

    def find_file(self, file_id: str, filename: str) -> FileSource | None:
        return self.files.find(file_id, filename)


class RunSession(Session):
    """The session of one app reader in run mode (see the module docstring)."""

    mode: Mode = "run"

    def __init__(self, document: NotebookDocument, kernel_factory: KernelFactory, *, ready_timeout: float = 60.0) -> None:
        super().__init__(document, kernel_factory, ready_timeout=ready_timeout, record=False)
        self._files = StoreFiles(self._store)

    def _store(self) -> Any:
        runtime = getattr(self.kernel, "runtime", None)
        return getattr(runtime, "virtual_files", None)

    async def _on_kernel_ready(self, kernel: KernelHandle) -> None:
        ids, codes = self.document.code_cells()
        if ids and not self.closing:
            await kernel.send(protocol.ExecuteCells(cell_ids=ids, codes=codes, order=ids))

    def find_file(self, file_id: str, filename: str) -> FileSource | None:
        return self._files.find(file_id, filename)
