"""The kernel session that runs inside Pyodide (a Web Worker in the browser, Node for tests).

One :class:`Session` owns one kernel at a time, built by the same
:func:`~lifecycle.kernel_lifecycle.create_kernel` as every host (through
:func:`~lifecycle.kernel_lifecycle.serve`), with ``"replace"`` console capture (batched) and
``"in_memory"`` virtual files, driven by :func:`~lifecycle.kernel_lifecycle.asyncio_queue_reader`
on two :class:`asyncio.Queue` objects (control and UI).

Frames are msgpack bytes both ways, with no JSON in between::

    session = Session(send_frame)      # send_frame(bytes): one notification frame out
    session.start()                    # kernel-ready follows
    session.handle_frame(frame)        # one command frame in (bytes, memoryview or a JS Uint8Array)

In Pyodide, :func:`create_session` wraps a JavaScript callback so it receives a ``Uint8Array``
per frame, and accepts JavaScript callables for ``input()``.

The kernel runs as a *restartable task*: :meth:`Session.restart` cancels the running task
(:func:`~lifecycle.kernel_lifecycle.teardown_kernel` runs on the cancellation: virtual files
dropped, streams restored, globals cleared), then a fresh kernel starts on fresh queues.
Frames handed in meanwhile go to the new kernel.  A cell that never yields cannot be
cancelled (one thread): the page interrupts it first (interrupt buffer).

Host-level frames (not kernel commands) handled here like the local server does:
``restart-kernel`` -> ``kernel-restarted`` (after the new ``kernel-ready``), ``save-notebook``
-> ``notebook-saved`` with ``ok: false`` (a page in a browser has no file to write);
``push-virtual-files`` -> every virtual file's bytes follow its creation as a
``virtual-file-data`` frame (pages without a service worker: :mod:`pyodide_host.file_push`).

``input()``: with ``wait_reply`` (a synchronous function the page provides when it is
cross-origin isolated: ``SharedArrayBuffer`` + ``Atomics.wait``), the cell blocks until the
reply; without it ``input()`` raises :class:`~lifecycle.stdin.StdinUnavailableError` with an
explanation (:data:`NO_ISOLATION_MESSAGE`) instead of hanging.

``install-packages`` goes through micropip (loaded on first use), looking in ``index_urls``
first (the site's own PEP 503 index), then in the runtime's lock.  With ``auto_install`` a cell's
imports that cannot be imported are installed before its code runs
(:class:`pyodide_host.imports.ImportInstaller`, a ``before_cell`` hook: lock packages through
``import_map``, else micropip), with progress on the cell's stderr.

``save-notebook`` is answered with ``ok: false`` plus ``content`` (the cells as a percent-format
``.py``) and ``filename``, so the page can offer a download instead.

Helpers live in sibling modules: :mod:`pyodide_host.frames` (host-level frames, notebook
text), :mod:`pyodide_host.installer` (micropip, the lock) and :mod:`pyodide_host.jsbridge`
(JavaScript values).  This module and they import only the standard library, msgspec and
:mod:`lifecycle` at import time, so its pure parts run (and are tested) on CPython too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lifecycle import protocol
from lifecycle.kernel import Kernel
from lifecycle.kernel_lifecycle import KernelArgs, KernelRuntime, asyncio_queue_reader, serve
from lifecycle.stdin import StdinBroker
from pyodide_host.file_push import PUSH_COMMAND, FilePusher
from pyodide_host.frames import (
    HOST_TYPES,
    Peek,
    as_bytes,
    host_frame,
    parse_notebook,
    peek,
    save_request_text,
)
from pyodide_host.installer import AwaitableInstaller, install_with_micropip
from pyodide_host.installer import load_from_lock as _load_from_lock
from pyodide_host.jsbridge import (
    Send,
    WaitReply,
    frame_sender,
    input_replier,
    install_sleep,
    is_js_nullish,
)

__all__ = ["NO_ISOLATION_MESSAGE", "Session", "create_session", "current_session", "default_args", "parse_notebook"]

log = logging.getLogger("amphikernel.pyodide")

NO_ISOLATION_MESSAGE = (
    "input() is not available on this page: the kernel runs in a Web Worker and can only wait "
    "for your answer when the page is cross-origin isolated (SharedArrayBuffer + Atomics.wait). "
    "Serve the site with the headers 'Cross-Origin-Opener-Policy: same-origin' and "
    "'Cross-Origin-Embedder-Policy: require-corp' (or load coi-serviceworker) to enable it, or "
    "use a UI element (e.g. a text box) instead."
)
"""What ``input()`` raises with when the page cannot answer synchronously."""


def default_args(mode: str = "edit", semantics: str = "script") -> KernelArgs:
    """The kernel arguments of the Pyodide host: replace-mode console, in-memory virtual files,
    and the kernel's module as ``__main__`` (one kernel per worker, like the subprocess host:
    ``pickle`` and ``mock.patch("__main__.X")`` see the cells' globals)."""
    return KernelArgs(
        mode=mode,  # type: ignore[arg-type]
        semantics=semantics,  # type: ignore[arg-type]
        console="replace",
        virtual_files="in_memory",
        install_main=True,
    )


class Session:
    """One kernel at a time, restartable, fed with msgpack frames.

    Args:
        send: called with each notification frame (``bytes``), in order.
        args: kernel arguments (default :func:`default_args`).
        wait_reply: synchronous ``(request) -> str`` answering ``input()``; ``None`` when the
            page cannot block (``input()`` then raises with ``stdin_unavailable``).
        stdin_unavailable: the explanation ``input()`` raises with when ``wait_reply`` is
            ``None`` (default :data:`NO_ISOLATION_MESSAGE`).
        interrupt_available: the page set an interrupt buffer (announced as the
            ``interrupt`` capability).
        index_urls: package indexes micropip looks in first (PEP 503 simple indexes).
        installer: replaces the micropip installer (tests): ``async (packages) ->
            (installed, failed)``.
        auto_install: install a cell's missing imports before it runs.
        import_map: import name -> lock package name (from ``pyodide-lock.json``).
        load_from_lock: ``async (lock package names) -> None`` (default in Pyodide:
            ``pyodide.loadPackage``).
        filename: the notebook's file name, for the download offered instead of saving.
        source_text: the notebook file's text as the site holds it (percent ``.py``): the
            download keeps its header and untouched cells byte for byte; ``None``: the cells
            are written out in the standard layout.
    """

    def __init__(
        self,
        send: Send,
        *,
        args: KernelArgs | None = None,
        wait_reply: WaitReply | None = None,
        stdin_unavailable: str | None = None,
        interrupt_available: bool = False,
        index_urls: Sequence[str] = (),
        installer: Callable[[list[str]], Any] | None = None,
        auto_install: bool = False,
        import_map: dict[str, str] | None = None,
        load_from_lock: Callable[[list[str]], Any] | None = None,
        filename: str = "notebook.py",
        source_text: str | None = None,
    ) -> None:
        self._send = send
        self.source_text = source_text
        self.auto_install = auto_install
        self.import_map = dict(import_map or {})
        self._load_from_lock = load_from_lock
        self.filename = filename
        self.args = args or default_args()
        self.wait_reply = wait_reply
        self.stdin_unavailable = stdin_unavailable or NO_ISOLATION_MESSAGE
        self.interrupt_available = interrupt_available
        self.index_urls = list(index_urls)
        self._installer = installer
        self.kernel: Kernel | None = None
        self.runtime: KernelRuntime | None = None
        self.task: asyncio.Task[None] | None = None
        self.generation = 0
        self._control: asyncio.Queue[Any] = asyncio.Queue()
        self._ui: asyncio.Queue[Any] = asyncio.Queue()
        self._after_ready: list[bytes] = []
        self.closed = False
        self.file_push = FilePusher(self.send_frame)
        """Sends virtual files to the page once it asks (``push-virtual-files``; see
        :mod:`pyodide_host.file_push`)."""

    # ------------------------------------------------------------------ frames out
    def emit(self, notification: Any) -> None:
        """Send one notification (encoded once, as msgpack)."""
        self.send_frame(protocol.encode(notification))

    def send_frame(self, frame: bytes) -> None:
        try:
            self._send(frame)
        except Exception:  # the page went away mid-send: nothing to tell it
            log.exception("sending a frame to the page failed")

    @property
    def capabilities(self) -> list[str]:
        """What this kernel offers, announced in ``kernel-ready``."""
        caps = ["virtual-files", "completion", "install-packages", "restart"]
        if self.interrupt_available:
            caps.append("interrupt")
        if self.wait_reply is not None:
            caps.append("stdin")
        return caps

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> asyncio.Task[None]:
        """Start the kernel task (``kernel-ready`` is the first frame it sends).

        Raises:
            RuntimeError: already started, or closed.
        """
        if self.closed:
            raise RuntimeError("the session is closed")
        if self.task is not None and not self.task.done():
            raise RuntimeError("the session's kernel is already running")
        self.task = self._spawn(None, fresh_queues=self.generation > 0)
        return self.task

    def _spawn(self, previous: asyncio.Task[None] | None, *, fresh_queues: bool = True) -> asyncio.Task[None]:
        self.generation += 1
        if fresh_queues:  # the first kernel keeps frames handed in before start()
            self._control, self._ui = asyncio.Queue(), asyncio.Queue()
        self.kernel = self.runtime = None
        return asyncio.get_event_loop().create_task(
            self._run(previous, self._control, self._ui), name=f"amphikernel-{self.generation}"
        )

    async def _run(
        self, previous: asyncio.Task[None] | None, control: asyncio.Queue[Any], ui: asyncio.Queue[Any]
    ) -> None:
        if previous is not None:
            with contextlib.suppress(BaseException):
                await previous  # its teardown runs first
        await serve(
            self.args,
            self.emit,
            control,
            ui,
            asyncio_queue_reader,
            capabilities=self.capabilities,
            on_ready=self._on_ready,
        )

    def _on_ready(self, kernel: Kernel, runtime: KernelRuntime) -> None:
        self.kernel, self.runtime = kernel, runtime
        broker = StdinBroker(
            kernel.emit,
            wait_reply=self.wait_reply,
            unavailable=None if self.wait_reply is not None else self.stdin_unavailable,
        )
        runtime.stdin = kernel.extensions["stdin"] = broker
        runtime.closers.append(broker.close)
        install = self._installer or self.install_packages
        kernel.extensions["installer"] = AwaitableInstaller(install)
        if self.auto_install:
            from pyodide_host.imports import ImportInstaller

            loader = self._load_from_lock
            if loader is None and sys.platform == "emscripten":
                loader = _load_from_lock
            kernel.hooks.before_cell.append(ImportInstaller(install, import_map=self.import_map, load_from_lock=loader))
        self.file_push.attach(runtime.virtual_files)
        if self._after_ready:
            frames, self._after_ready = self._after_ready, []
            loop = asyncio.get_event_loop()
            for frame in frames:  # after kernel-ready, which serve() sends next
                loop.call_soon(self.send_frame, frame)

    def restart(self) -> asyncio.Task[None]:
        """Cancel the kernel task (it tears down) and start a fresh kernel on fresh queues.

        Returns the new task; frames handed in from now on go to the new kernel.
        """
        if self.closed:
            raise RuntimeError("the session is closed")
        previous = self.task
        if previous is not None and not previous.done():
            previous.cancel()
        self.task = self._spawn(previous)
        return self.task

    async def close(self) -> None:
        """Stop the kernel for good (cancellation; teardown runs)."""
        self.closed = True
        task = self.task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    # ------------------------------------------------------------------ frames in
    def handle_frame(self, frame: Any) -> None:
        """Take one msgpack frame from the page: a kernel command, or a host-level message
        (``restart-kernel``, ``save-notebook``).  Never raises for bad input: an undecodable
        command is answered with ``kernel-error``."""
        try:
            self._handle_frame(frame)
        except Exception:  # never let a page's frame end the worker's entry point
            log.exception("a frame from the page could not be handled")

    def _handle_frame(self, frame: Any) -> None:
        try:
            data = as_bytes(frame)
        except TypeError as exc:
            self.send_frame(protocol.encode(protocol.KernelError(message=str(exc))))
            return
        # A frame nested too deeply is not peeked (msgspec would overflow the WebAssembly
        # stack): it goes on to decode_command, which refuses it.
        head = None if protocol.nested_too_deep(data) else peek(data)
        if head is not None and isinstance(head.type, str) and head.type in HOST_TYPES:
            self._host_message(head, data)
            return
        router = self.runtime.router if self.runtime is not None else None
        if router is not None:
            router.submit_frame(data)
        else:  # still starting: the control loop decodes raw frames in order
            self._control.put_nowait(bytes(data))

    def submit(self, command: Any) -> None:
        """Hand a decoded command to the kernel (tests, in-process hosts)."""
        router = self.runtime.router if self.runtime is not None else None
        if router is not None:
            router.submit(command)
        else:
            self._control.put_nowait(protocol.encode(command))

    def _host_message(self, head: Peek, data: bytes | bytearray | memoryview = b"") -> None:
        request_id = head.request_id if isinstance(head.request_id, str) else ""
        if head.type == "restart-kernel":
            if self.closed:
                self.send_frame(host_frame("kernel-restarted", ok=False, error="the session is closed", request_id=request_id))
                return
            self._after_ready.append(host_frame("kernel-restarted", ok=True, error="", request_id=request_id))
            self.restart()
        elif head.type == PUSH_COMMAND:
            self.file_push.enable(self.runtime.virtual_files if self.runtime is not None else None)
        elif head.type == "save-notebook":
            content, problem = self.notebook_text(data)
            self.send_frame(host_frame(
                "notebook-saved", ok=False, request_id=request_id, path="",
                error="this notebook runs in the browser (Pyodide): there is no file to save to; download it instead"
                + (f" ({problem})" if problem else ""),
                content=content, filename=self.filename,
            ))  # fmt: skip

    def notebook_text(self, frame: bytes | bytearray | memoryview) -> tuple[str, str]:
        """The cells of a ``save-notebook`` frame as a percent-format ``.py``:
        ``(text, "")``, or ``("", why)`` when they cannot be written in that format."""
        return save_request_text(frame, self.source_text)

    # ------------------------------------------------------------------ virtual files
    def read_file(self, url: str) -> tuple[bytes, str] | None:
        """``(bytes, mimetype)`` of a virtual file of the current kernel (``@file/...`` URL or
        id), or ``None``: what the page's service worker serves for ``@file/`` URLs."""
        store = self.runtime.virtual_files if self.runtime is not None else None
        if store is None:
            return None
        info = store.get(url)
        if info is None:
            return None
        try:
            return store.read(url), info.mimetype
        except KeyError:
            return None

    def read_file_js(self, url: str) -> Any:
        """:meth:`read_file` for JavaScript: ``[Uint8Array, mimetype]`` or ``undefined``."""
        found = self.read_file(str(url))
        if found is None:
            return None
        from pyodide.ffi import to_js  # type: ignore[import-not-found]

        return to_js([memoryview(found[0]), found[1]])

    # ------------------------------------------------------------------ packages
    async def install_packages(self, packages: list[str]) -> tuple[list[str], dict[str, str]]:
        """Install requirements with micropip (the ``installer`` extension of the kernel).

        Returns:
            ``(installed, failed)``: requirements installed, requirement -> one-line reason.
        """
        return await install_with_micropip(packages, self.index_urls)


# ------------------------------------------------------------------------ JS bridge


def create_session(
    send: Any,
    *,
    wait_reply: Any = None,
    interrupt_available: bool = False,
    index_urls: Iterable[str] | Any = (),
    mode: str = "edit",
    semantics: str = "script",
    start: bool = True,
    auto_install: bool = False,
    import_map: Any = None,
    filename: str = "notebook.py",
    patch_http: bool = True,
    sleep: Any = None,
    source_text: Any = None,
) -> Session:
    """Create (and start) a session from JavaScript values (inside Pyodide).

    Args:
        send: a JS function called with one ``Uint8Array`` per notification frame (a Python
            callable receiving ``bytes`` also works).
        wait_reply: a JS function ``(requestId) -> string`` that blocks until the page
            answers an ``input-request`` (``Atomics.wait``); ``null``/``undefined`` when the
            page is not cross-origin isolated.  Returning ``null``/``undefined`` means the
            wait was interrupted (the cell gets ``KeyboardInterrupt``).
        interrupt_available: ``pyodide.setInterruptBuffer`` was called.
        index_urls: PEP 503 index URLs for micropip (a JS array or Python iterable).
        mode, semantics: kernel mode (``"edit"``/``"run"``) and semantics.
        start: start the kernel now.
        auto_install: install a cell's missing imports before it runs.
        import_map: import name -> lock package name (a JS object/Map or a dict).
        filename: the notebook's file name (offered as a download instead of saving).
        patch_http: route ``http.client``/``urllib.request`` through synchronous
            XMLHttpRequest (:mod:`pyodide_host.http`; only inside Pyodide).
        sleep: a JS function ``(seconds) -> any`` that blocks the worker and returns early on
            an interrupt (``Atomics.wait`` on the interrupt buffer); it replaces
            ``time.sleep``.  Pyodide's own ``time.sleep`` suspends the cell and runs the event
            loop meanwhile, so an interrupt would land in whatever other Python code runs
            then instead of in the sleeping cell.
        source_text: the notebook file's text (a JS string; ``null``/``undefined``: none),
            see :class:`Session`.
    """
    sender = frame_sender(send)
    replier = input_replier(wait_reply)
    if hasattr(index_urls, "to_py"):
        index_urls = index_urls.to_py()
    if hasattr(import_map, "to_py"):
        import_map = import_map.to_py()
    if sleep is not None and not is_js_nullish(sleep):
        install_sleep(sleep)
    if patch_http and sys.platform == "emscripten":
        from pyodide_host import http

        http.install()
    session = Session(
        sender,
        args=default_args(mode, semantics),
        wait_reply=replier,
        interrupt_available=bool(interrupt_available),
        index_urls=[str(u) for u in (index_urls or ())],
        auto_install=bool(auto_install),
        import_map={str(k): str(v) for k, v in dict(import_map or {}).items()},
        filename=str(filename),
        source_text=None if source_text is None or is_js_nullish(source_text) else str(source_text),
    )
    global _current
    _current = session
    if start:
        session.start()
    return session


_current: Session | None = None


def current_session() -> Session | None:
    """The session :func:`create_session` made last (the worker's one session)."""
    return _current
