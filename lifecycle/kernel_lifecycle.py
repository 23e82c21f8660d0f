"""The lifecycle core shared by every host: hooks, kernel creation, control loop, teardown.

::

    hooks = build_hooks("edit", config)
    kernel, runtime = create_kernel(KernelArgs(...), emit, hooks)
    try:
        await listen_messages(kernel, control_queue, ui_queue, asyncio_queue_reader)
    finally:
        teardown_kernel(kernel, runtime)

(:func:`serve` is exactly that.)  The Pyodide host reads :class:`asyncio.Queue` objects with
:func:`asyncio_queue_reader`; the subprocess and thread hosts read :class:`queue.Queue`
objects with :func:`threaded_queue_reader`, inside an event loop of the kernel's own thread.

Hosts put commands with :func:`submit_command` (or raw msgpack frames with
:func:`submit_frame`): UI-element and widget-state updates go to ``ui_queue`` and leave a
wake-up token on ``control_queue``; everything else goes to ``control_queue`` in order.  When
the loop takes a wake-up token it drains every waiting update, merges them (the latest value
per element and per widget-state key wins) and runs the affected cells once.  Tokens whose
updates were already merged find ``ui_queue`` empty and cost one non-blocking ``get``.
"""

from __future__ import annotations

import logging
import os
import queue as thread_queue
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from lifecycle import context as context_mod
from lifecycle import protocol
from lifecycle.kernel import Hooks, Kernel, KernelConfig, merge_ui_updates

if TYPE_CHECKING:  # pragma: no cover
    import asyncio

log = logging.getLogger("amphikernel.lifecycle")

ConsoleMode = Literal["fd", "replace", "thread-local"]
StorageMode = Literal["in_memory", "shared_memory"]


class KernelArgs(msgspec.Struct, kw_only=True, omit_defaults=True):
    """How to build a kernel (JSON/msgpack-serialisable: the subprocess host sends it on the
    kernel's stdin).

    Attributes:
        mode: ``"edit"`` or ``"run"``.
        semantics: ``"script"`` or ``"strict"``.
        console: console capture mode (:mod:`lifecycle.streams`), ``None`` for none.
        virtual_files: virtual-file storage, ``None`` to disable virtual files.
        output_max_bytes: outputs above this many bytes become a notice.
        install_main: make the kernel's module ``__main__`` (one kernel per process).
        max_console_bytes: console output kept per cell run, in bytes.
        cwd: working directory to change to (subprocess kernels), ``None`` to keep.
    """

    mode: Literal["edit", "run"] = "edit"
    semantics: Literal["script", "strict"] = "script"
    console: ConsoleMode | None = None
    virtual_files: StorageMode | None = None
    output_max_bytes: int = 10_000_000
    install_main: bool = False
    max_console_bytes: int = 5_000_000
    cwd: str | None = None


@dataclass
class KernelRuntime:
    """What :func:`create_kernel` set up around the kernel and :func:`teardown_kernel` undoes."""

    context: context_mod.KernelContext
    console: Any = None
    virtual_files: Any = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    stdin: Any = None
    router: CommandRouter | None = None
    torn_down: bool = False


# ---------------------------------------------------------------------------- hooks


def _report_variables(kernel: Kernel, ran: list[str]) -> None:
    if ran:
        kernel.emit(protocol.Variables(cells=kernel.defined_variables(ran)))


def build_hooks(mode: Literal["edit", "run"], config: KernelConfig | None = None) -> Hooks:
    """The execution hooks for a mode.

    Edit mode reports the variables each run defined (``variables``); run (app) mode reports
    nothing about code or variables.

    Raises:
        ValueError: unknown mode.
    """
    if mode == "edit":
        return Hooks(on_finish=[_report_variables])
    if mode == "run":
        return Hooks()
    raise ValueError(f"unknown kernel mode {mode!r} (expected 'edit' or 'run')")


# ------------------------------------------------------------------------- creation


def create_kernel(
    args: KernelArgs, emit: context_mod.Emit, hooks: Hooks | None = None
) -> tuple[Kernel, KernelRuntime]:
    """Construct a kernel and its runtime context (console capture, virtual files).

    Args:
        args: how to build it (:class:`KernelArgs`).
        emit: sends a notification to the host; must be thread-safe.
        hooks: execution hooks; default :func:`build_hooks` for ``args.mode``.

    Returns:
        ``(kernel, runtime)``; pass both to :func:`teardown_kernel` on every exit path.
    """
    store = None
    if args.virtual_files is not None:
        from lifecycle.virtual_files import create_store

        store = create_store(args.virtual_files)
    ctx = context_mod.KernelContext(
        emit, virtual_files=store, output_max_bytes=args.output_max_bytes
    )
    runtime = KernelRuntime(context=ctx, virtual_files=store)
    if store is not None:

        def announce(event: str, file: Any) -> None:
            emit(protocol.VirtualFileNotice(
                url=file.url, filename=file.filename, mimetype=file.mimetype, size=file.size,
                shm_name=file.shm_name, released=event == "released",
            ))

        store.listeners.append(announce)
    try:
        if args.cwd is not None:
            os.chdir(args.cwd)
        console = None
        if args.console is not None:
            from lifecycle.streams import create_console

            def sink(cell_id: str, stream: Any, text: str) -> None:
                emit(protocol.CellConsole(cell_id=cell_id, stream=stream, text=text))

            console = create_console(args.console, sink, max_bytes_per_cell=args.max_console_bytes)
        runtime.console = console
        config = KernelConfig(
            mode=args.mode,
            semantics=args.semantics,
            output_max_bytes=args.output_max_bytes,
            install_main=args.install_main,
            redact_tracebacks=args.mode == "run",
        )
        kernel = Kernel(
            emit, ctx, config, hooks if hooks is not None else build_hooks(args.mode, config), console
        )
        context_mod.register(ctx)
        _install_services(kernel)
        from lifecycle import stdin as stdin_mod

        runtime.stdin = kernel.extensions["stdin"] = stdin_mod.StdinBroker(emit)
        stdin_mod.install()
        runtime.closers.append(stdin_mod.uninstall)
        runtime.closers.append(runtime.stdin.close)
        from lifecycle import display as display_mod

        display_mod.install_builtin()  # Jupyter: display() needs no import
        runtime.closers.append(display_mod.uninstall_builtin)
        from lifecycle import magics  # __amphi_magic__: what rewritten IPython syntax calls

        magics.install_builtin()
        runtime.closers.append(magics.uninstall_builtin)
        from lifecycle import widgets

        widgets.install(kernel, runtime)
        from lifecycle import matplotlib_backend

        matplotlib_backend.install(kernel, runtime)  # imports no matplotlib
        from lifecycle import ipython_compat

        ipython_compat.install(kernel, runtime)  # IPython.display, Altair, Plotly; imports none
        for setup in _EXTENSION_SETUPS:
            setup(kernel, runtime)
    except BaseException:
        _close_runtime(runtime)
        raise
    return kernel, runtime


def _install_services(kernel: Kernel) -> None:
    """Give the kernel its I/O services (it imports none of them itself): the UI-element
    registry, the value formatter, the completer and the package installer.  A host may
    replace the completer or the installer afterwards (the Pyodide host installs with
    micropip)."""
    from lifecycle.display import format_value
    from lifecycle.ui.registry import UIRegistry

    kernel.extensions["ui"] = UIRegistry(kernel)
    kernel.extensions["format_value"] = format_value

    def install(packages: list[str]) -> Any:
        from lifecycle.packages import pip_installer  # imported on first use: start-up cost

        return pip_installer(packages)

    def complete(cmd: protocol.Complete) -> None:
        from lifecycle import completion  # imported on first use: start-up cost

        kernel.emit(completion.answer(cmd, kernel.globals))

    kernel.extensions["installer"] = install
    kernel.extensions["completer"] = complete


_EXTENSION_SETUPS: list[Callable[[Kernel, KernelRuntime], None]] = []


def register_extension(setup: Callable[[Kernel, KernelRuntime], None]) -> None:
    """Run ``setup(kernel, runtime)`` for every kernel created from now on (UI elements,
    widgets, stdin install themselves this way; ``runtime.closers`` undo them)."""
    if setup not in _EXTENSION_SETUPS:
        _EXTENSION_SETUPS.append(setup)


def ready_notification(capabilities: list[str] | None = None) -> protocol.KernelReady:
    """The ``kernel-ready`` notification for this interpreter."""
    return protocol.KernelReady(
        protocol=protocol.PROTOCOL_VERSION,
        capabilities=capabilities or [],
        python=".".join(map(str, sys.version_info[:3])),
        pid=os.getpid(),
    )


# --------------------------------------------------------------------- queue readers

GetRequest = Callable[[Any], Awaitable[Any]]


async def asyncio_queue_reader(q: asyncio.Queue[Any]) -> Any:
    """Next item of an :class:`asyncio.Queue` (Pyodide host)."""
    return await q.get()


async def threaded_queue_reader(q: thread_queue.Queue[Any]) -> Any:
    """Next item of a :class:`queue.Queue` filled by other threads (subprocess/thread hosts).

    Waiting items are taken without a thread hop.  Otherwise, if an event loop runs this
    coroutine and has other tasks (a cell started background tasks), the wait happens in an
    executor thread so those tasks keep running; if not, it blocks this thread directly
    (lowest latency, and it never suspends, so :func:`run_sync` can drive it).
    """
    try:
        return q.get_nowait()
    except thread_queue.Empty:
        pass
    asyncio = sys.modules.get("asyncio")
    loop = asyncio._get_running_loop() if asyncio is not None else None
    if loop is not None and len(asyncio.all_tasks(loop)) > 1:
        return await loop.run_in_executor(None, q.get)
    return q.get()


def run_sync(coro: Any) -> Any:
    """Drive a coroutine that never suspends (the control loop with
    :func:`threaded_queue_reader`) to completion in this thread, without an event loop.

    Cells using top-level ``await`` get an event loop of their own from the kernel.

    Raises:
        RuntimeError: the coroutine suspended (it awaited something that needs an event
            loop); it is closed.
    """
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("run_sync: the coroutine suspended; drive it with asyncio.run instead")


# ----------------------------------------------------------------------- control loop


class _UIWake:
    """Token on the control queue: UI/widget updates are waiting on the UI queue."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UI_WAKE"


UI_WAKE = _UIWake()


def is_mergeable(command: Any) -> bool:
    """Whether UI-merge batches this command (UI values and widget state updates)."""
    return isinstance(command, protocol.UpdateUIElement) or (
        isinstance(command, protocol.WidgetModel) and command.method == "update"
    )


def submit_command(control_queue: Any, ui_queue: Any, command: Any) -> None:
    """Put a decoded command on the right queue (works for asyncio and thread queues)."""
    if is_mergeable(command):
        ui_queue.put_nowait(command)
        control_queue.put_nowait(UI_WAKE)
    else:
        control_queue.put_nowait(command)


def submit_frame(control_queue: Any, ui_queue: Any, frame: bytes | bytearray | memoryview) -> None:
    """Decode a msgpack command frame and submit it.  A frame that does not decode is
    queued as its error, which the loop reports as ``kernel-error`` in order."""
    try:
        command = protocol.decode_command(frame)
    except protocol.CommandDecodeError as exc:
        control_queue.put_nowait(exc)
        return
    submit_command(control_queue, ui_queue, command)


def _drain(q: Any) -> list[Any]:
    asyncio = sys.modules.get("asyncio")
    empty: tuple[type[BaseException], ...] = (thread_queue.Empty,)
    if asyncio is not None:
        empty += (asyncio.QueueEmpty,)
    items: list[Any] = []
    while True:
        try:
            items.append(q.get_nowait())
        except empty:
            return items


async def _apply_ui_batch(kernel: Kernel, batch: list[Any]) -> None:
    """Apply a batch of UI updates merged (one run of the readers).  When the merged update
    is refused (an unknown id, a value an element rejects), the batch came from separate
    frames: each is then applied on its own, in order, so one bad frame is reported alone and
    never takes the others' values with it (a frame stays all-or-nothing)."""
    values, models = merge_ui_updates(batch)
    try:
        await kernel.apply_ui_updates(values, models)
    except (LookupError, ValueError, TypeError):
        if len(batch) < 2:
            raise
        for command in batch:
            try:
                await kernel.apply_ui_updates(*merge_ui_updates([command]))
            except (Exception, KeyboardInterrupt) as exc:
                _report(kernel, exc, command)


def _report(kernel: Kernel, exc: BaseException, command: Any) -> None:
    tag = getattr(getattr(type(command), "__struct_config__", None), "tag", None)
    log.error("error while handling %s: %r", tag or type(command).__name__, exc, exc_info=exc)
    kernel.emit(
        protocol.KernelError(
            message=f"error while handling {tag or type(command).__name__}: {type(exc).__name__}: {exc}",
            command_type=tag if isinstance(tag, str) else None,
            detail=repr(exc),
        )
    )


class CommandRouter:
    """Routes commands from a host's channel to where they can act while a cell runs.

    * ``input-reply`` -> the stdin broker (the control loop is busy in ``input()``); a reply
      nobody asked for becomes a ``kernel-error`` at once;
    * ``interrupt`` -> the host's ``interrupt`` callable (signal, async exception, interrupt
      buffer) and any waiting ``input()``;
    * ``complete`` -> ``completer`` when given (a worker thread), else the control queue;
    * UI-element and widget-state updates -> ``ui_queue`` plus a wake-up token;
    * everything else -> ``control_queue``, in order.

    Thread-safe when the queues are (``queue.Queue``); with :class:`asyncio.Queue` call it
    from the loop's thread.

    Args:
        kernel, runtime: from :func:`create_kernel`.
        control_queue, ui_queue: the queues :func:`listen_messages` reads.
        interrupt: interrupts the running cell (``None``: only waiting ``input()`` is woken).
        completer: answers ``complete`` off the control loop (``None``: in the loop).
    """

    def __init__(
        self,
        kernel: Kernel,
        runtime: KernelRuntime,
        control_queue: Any,
        ui_queue: Any,
        *,
        interrupt: Callable[[], None] | None = None,
        completer: Callable[[protocol.Complete], None] | None = None,
    ) -> None:
        self.kernel = kernel
        self.runtime = runtime
        self.control_queue = control_queue
        self.ui_queue = ui_queue
        self.interrupt = interrupt
        self.completer = completer
        self.bad_frames = protocol.BadFrames()

    def submit(self, command: Any) -> None:
        """Route one decoded command."""
        if isinstance(command, protocol.InputReply):
            stdin = self.runtime.stdin
            if stdin is None or not stdin.deliver(command):
                self.kernel.emit(
                    protocol.KernelError(
                        message=f"input-reply {command.request_id!r}: no input() is waiting for it",
                        command_type="input-reply",
                    )
                )
            return
        if isinstance(command, protocol.Interrupt):
            if self.runtime.stdin is not None:
                self.runtime.stdin.interrupt()
            if self.interrupt is not None and self.kernel.running_cell is not None:
                self.interrupt()
            return
        if isinstance(command, protocol.Complete) and self.completer is not None:
            self.completer(command)
            return
        submit_command(self.control_queue, self.ui_queue, command)

    def submit_frame(self, frame: bytes | bytearray | memoryview) -> None:
        """Decode a msgpack frame and route it; an undecodable frame is counted
        (``bad_frames``) and reported as a ``kernel-error`` in order with the other
        commands, at a limited rate."""
        try:
            command = protocol.decode_command(frame)
        except protocol.CommandDecodeError as exc:
            # Counted always, reported at a limited rate (see protocol.BadFrames).
            if self.bad_frames.admit(exc):
                self.control_queue.put_nowait(exc)
            return
        self.submit(command)



async def listen_messages(
    kernel: Kernel, control_queue: Any, ui_queue: Any, get_request: GetRequest
) -> None:
    """The control loop: take commands from ``control_queue`` until ``stop``.

    Args:
        kernel: the kernel to drive.
        control_queue: commands in order, :data:`UI_WAKE` tokens, raw msgpack frames, or
            :class:`~lifecycle.protocol.CommandDecodeError` items (reported as errors).
        ui_queue: UI-element and widget-state updates waiting to be merged.
        get_request: :func:`asyncio_queue_reader` or :func:`threaded_queue_reader`.

    An exception while handling one message becomes a ``kernel-error`` notification and a
    log line; it never ends the loop.  Only ``stop`` (or cancellation) ends it.
    """
    while True:
        try:
            item = await get_request(control_queue)
        except KeyboardInterrupt:  # an interrupt that arrived while idle: nothing to stop
            continue
        try:
            if item is UI_WAKE:
                batch = _drain(ui_queue)
                if batch:
                    item = batch[-1]  # errors are reported under the batch's command type
                    await _apply_ui_batch(kernel, batch)
                continue
            if isinstance(item, (bytes, bytearray, memoryview)):
                try:
                    item = protocol.decode_command(item)
                except protocol.CommandDecodeError as exc:
                    kernel.emit(exc.to_notification())
                    continue
                if is_mergeable(item):
                    await _apply_ui_batch(kernel, [item, *_drain(ui_queue)])
                    continue
            if isinstance(item, protocol.CommandDecodeError):
                kernel.emit(item.to_notification())
                continue
            if isinstance(item, protocol.Stop):
                return
            await kernel.handle_message(item)
        except (Exception, KeyboardInterrupt, SystemExit) as exc:
            _report(kernel, exc, item)


# ------------------------------------------------------------------------- teardown


def _close_runtime(runtime: KernelRuntime) -> None:
    for closer in reversed(runtime.closers):
        try:
            closer()
        except Exception:
            log.exception("teardown step %r failed", closer)
    runtime.closers.clear()
    if runtime.console is not None:
        try:
            runtime.console.close()
        except Exception:
            log.exception("closing console capture failed")
    if runtime.virtual_files is not None:
        try:
            runtime.virtual_files.shutdown()
        except Exception:
            log.exception("shutting down virtual files failed")
    context_mod.unregister(runtime.context)


def teardown_kernel(kernel: Kernel, runtime: KernelRuntime) -> None:
    """Release everything a kernel holds (idempotent; safe on every exit path): extension
    closers, console capture (streams restored), virtual files (shared memory unlinked),
    the context registration, and the globals."""
    if runtime.torn_down:
        return
    runtime.torn_down = True
    try:
        _close_runtime(runtime)
    finally:
        kernel.close()


async def serve(
    args: KernelArgs,
    emit: context_mod.Emit,
    control_queue: Any,
    ui_queue: Any,
    get_request: GetRequest,
    *,
    capabilities: list[str] | None = None,
    on_ready: Callable[[Kernel, KernelRuntime], None] | None = None,
    interrupt: Callable[[], None] | None = None,
) -> None:
    """Create a kernel, announce ``kernel-ready``, run the control loop until ``stop``, and
    tear down on every exit path (stop, exception, cancellation).

    ``runtime.router`` (a :class:`CommandRouter` over the two queues, with ``interrupt``)
    is set before ``on_ready(kernel, runtime)`` is called.
    """
    kernel, runtime = create_kernel(args, emit)
    runtime.router = CommandRouter(kernel, runtime, control_queue, ui_queue, interrupt=interrupt)
    try:
        if on_ready is not None:
            on_ready(kernel, runtime)
        emit(ready_notification(capabilities))
        await listen_messages(kernel, control_queue, ui_queue, get_request)
    finally:
        teardown_kernel(kernel, runtime)
