"""The bridge process: Jupyter's five ZeroMQ channels on one side, an amphikernel kernel
subprocess on the other.

Wire: ``jupyter_client.session.Session`` (HMAC signing, message framing) over pyzmq sockets
bound as the connection file says (shell, control, stdin: ROUTER; iopub: PUB; heartbeat: an
echo socket on its own thread).  The kernel: :class:`subprocess_host.client.KernelClient`
(``launch_kernel``: the lifecycle core with fd-level console capture, the kernel module as
``__main__``) on the interpreter the kernelspec names.  What the messages mean is decided in
:mod:`~subprocess_host.jupyter.translate`, :mod:`~subprocess_host.jupyter.comms` and
:mod:`~subprocess_host.jupyter.requests`; this module only moves them.

Shell requests are served one at a time, in order (as ipykernel does); control requests
(``kernel_info``, ``interrupt_request``, ``shutdown_request``) at once, even while a cell runs.
Every request is wrapped in ``status: busy`` / ``status: idle`` on iopub, parented to it.

**Cells.**  A Jupyter cell is the kernel cell whose id the client sends in the request's
metadata (``cellId``, as JupyterLab and VS Code send it; ``cell_id`` is accepted too); cells
named in ``metadata.deletedCells`` are deleted first.  A request without a cell id (nbclient,
jupyter_console, jupyter_client scripts) becomes a new cell appended after every cell so far:
with script semantics, the default, that is exactly a top-to-bottom run (names bind to the
nearest definition above, redefinitions are allowed), and since nothing ever sits below a new
cell, such requests never re-run anything.

The bridge ends when the client asks (``shutdown_request``), on SIGTERM, when its parent
process is gone, or when the kernel subprocess dies (exit status 1, so the client's kernel
manager restarts it); the kernel subprocess is always stopped first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import uuid
from typing import Any

import zmq
import zmq.asyncio

from lifecycle import protocol
from lifecycle.kernel_lifecycle import KernelArgs
from subprocess_host.client import KernelClient
from subprocess_host.jupyter import messages as m
from subprocess_host.jupyter.comms import CommBridge
from subprocess_host.jupyter.connection import Connection, Heartbeat
from subprocess_host.jupyter.messages import Outgoing
from subprocess_host.jupyter.requests import (
    History,
    complete_content,
    help_target,
    inspect_content,
    is_complete,
    word_at,
)
from subprocess_host.jupyter.translate import RunState, Translator

log = logging.getLogger("amphikernel.jupyter")

COMPLETE_TIMEOUT = 10.0
"""Seconds to wait for the kernel's completions before replying with none."""
READY_TIMEOUT = 120.0
"""Seconds allowed for the kernel subprocess to start."""


def _cell_id(msg: dict[str, Any]) -> str | None:
    meta = msg.get("metadata") or {}
    for key in ("cellId", "cell_id"):
        value = meta.get(key)
        if isinstance(value, str) and value:
            return value
    value = (msg.get("content") or {}).get("cell_id")
    return value if isinstance(value, str) and value else None


class Bridge:
    """One Jupyter kernel: the sockets of ``connection`` in front of one kernel subprocess.

    Args:
        connection: the connection file's contents.
        kernel_args: how the kernel builds itself (default: edit mode, script semantics,
            fd-level console capture, no virtual files: Jupyter clients cannot fetch
            ``@file/`` URLs, so widget modules stay inline).
        python: the kernel's interpreter (default: this one).
        cwd: the kernel's working directory (default: the bridge's).
    """

    def __init__(self, connection: Connection, kernel_args: KernelArgs | None = None, *,
                 python: str | None = None, cwd: str | None = None) -> None:  # fmt: skip
        from jupyter_client.session import Session

        self.conn = connection
        self.kernel_args = kernel_args or KernelArgs(console="fd", virtual_files=None, install_main=True)
        self.session = Session(key=connection.key, signature_scheme=connection.signature_scheme,
                               username="amphikernel")  # fmt: skip
        self.client = KernelClient(self.kernel_args, python=python, cwd=cwd)
        self.translator = Translator()
        self.comms = CommBridge()
        self.history = History()
        self.execution_count = 0
        self.known_cells: set[str] = set()
        self.exit_status = 0
        self._parent: dict[str, Any] = {}
        self._run_done: asyncio.Event | None = None
        self._stop = asyncio.Event()
        self._shell_queue: asyncio.Queue[tuple[list[bytes], dict[str, Any]]] = asyncio.Queue()
        self._completions: dict[str, asyncio.Future[protocol.CompletionResult]] = {}
        self._input: tuple[str, list[bytes], dict[str, Any]] | None = None
        self._stdin_allowed: tuple[list[bytes], dict[str, Any]] | None = None
        self._ready: asyncio.Future[Any] | None = None
        self._stopping = False

    # ------------------------------------------------------------------ sending
    def _send(self, sock: Any, msg_type: str, content: dict[str, Any], parent: dict[str, Any] | None,
              ident: Any = None, buffers: list[bytes] | None = None, metadata: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.session.send(sock, msg_type, content, parent=parent or {}, ident=ident,
                          buffers=buffers or None, metadata=metadata or {})  # fmt: skip

    def publish(self, out: Outgoing, parent: dict[str, Any] | None = None) -> None:
        """Send one message on iopub, parented to ``parent`` (default: the current request)."""
        topic = f"kernel.amphi.{out.msg_type}".encode()
        self._send(self.iopub, out.msg_type, out.content, self._parent if parent is None else parent,
                   ident=topic, buffers=out.buffers, metadata=out.metadata)  # fmt: skip

    def _status(self, state: str, parent: dict[str, Any]) -> None:
        self.publish(Outgoing("status", {"execution_state": state}), parent)

    def _reply(self, sock: Any, idents: list[bytes], parent: dict[str, Any], content: dict[str, Any]) -> None:
        msg_type = parent["header"]["msg_type"].replace("_request", "_reply")
        self._send(sock, msg_type, content, parent, ident=idents, metadata={"status": content.get("status", "ok")})

    # ------------------------------------------------------------- notifications
    def _on_note(self, note: Any, frame: bytes) -> None:
        try:
            self._handle_note(note)
        except Exception:
            log.exception("cannot translate %s", type(note).__name__)

    def _handle_note(self, note: Any) -> None:
        if isinstance(note, protocol.CompletionResult):
            future = self._completions.pop(note.request_id, None)
            if future is not None and not future.done():
                future.set_result(note)
            return
        if isinstance(note, protocol.InputRequest):
            self._ask_input(note)
            return
        if isinstance(note, protocol.WidgetModelUpdate):
            for out in self.comms.from_kernel(note):
                self.publish(out)
            return
        if isinstance(note, protocol.KernelDied):
            if not self._stopping:
                log.error("the kernel subprocess died (%s): ending the bridge", note.returncode)
                self.publish(m.stream("stderr", f"amphikernel: the kernel process died ({note.returncode})\n"))
                self.exit_status = 1
                self._stop.set()
            if self._run_done is not None:
                self._run_done.set()
            return
        if isinstance(note, protocol.KernelError):
            log.warning("kernel error: %s", note.message)
            self.publish(m.stream("stderr", f"amphikernel: {note.message}\n"))
            run = self.translator.run
            if note.command_type == "execute-cells" and run is not None and not run.done:
                # The kernel could not handle the run at all: no completed-run will come.
                run.error = run.error or {"ename": "KernelError", "evalue": note.message, "traceback": [note.detail]}
                run.done = True
                if self._run_done is not None:
                    self._run_done.set()
            return
        try:
            for out in self.translator.translate(note):
                self.publish(out)
        finally:
            run = self.translator.run
            if run is not None and run.done and self._run_done is not None:
                self._run_done.set()

    def _ask_input(self, note: protocol.InputRequest) -> None:
        if self._stdin_allowed is None:
            self.publish(m.stream("stderr", "amphikernel: this client does not accept input(); it reads ''\n"))
            asyncio.get_running_loop().create_task(
                self.client.send(protocol.InputReply(request_id=note.request_id, text=""))
            )
            return
        idents, parent = self._stdin_allowed
        self._input = (note.request_id, idents, parent)
        self._send(self.stdin, "input_request", {"prompt": note.prompt, "password": note.password}, parent,
                   ident=idents)  # fmt: skip

    # ------------------------------------------------------------------- serve
    async def serve(self) -> int:
        """Bind, start the kernel, serve until stopped; returns the exit status."""
        ctx = zmq.asyncio.Context()
        self.ctx = ctx
        self.shell = ctx.socket(zmq.ROUTER)
        self.control = ctx.socket(zmq.ROUTER)
        self.stdin = ctx.socket(zmq.ROUTER)
        self.iopub = ctx.socket(zmq.PUB)
        sockets = {"shell": self.shell, "control": self.control, "stdin": self.stdin, "iopub": self.iopub}
        for name, sock in sockets.items():
            sock.setsockopt(zmq.LINGER, 1000)
            sock.bind(self.conn.address(name))
        heartbeat = Heartbeat(self.conn.address("hb"))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._stop.set)
        self.client.on_notification(self._on_note)
        self._ready = loop.create_task(self._start_kernel())
        tasks = [
            loop.create_task(self._read(self.shell, self._on_shell)),
            loop.create_task(self._read(self.control, self._on_control)),
            loop.create_task(self._read(self.stdin, self._on_stdin)),
            loop.create_task(self._shell_worker()),
            loop.create_task(self._watch_parent()),
        ]
        try:
            await self._stop.wait()
        finally:
            self._stopping = True
            await self._shutdown_kernel()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for sock in sockets.values():
                sock.close(linger=500)
            heartbeat.close()
            ctx.term()
        return self.exit_status

    async def _start_kernel(self) -> Any:
        try:
            await self.client.start()
            return await self.client.wait_ready(READY_TIMEOUT)
        except Exception as exc:  # a kernel that cannot start: the bridge ends, the client sees it die
            log.error("the kernel did not start: %s", exc)
            self.exit_status = 1
            self._stop.set()
            raise

    async def _shutdown_kernel(self) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.cancel()
            with contextlib.suppress(BaseException):
                await self._ready
        with contextlib.suppress(Exception):
            await self.client.shutdown(timeout=3.0)

    async def _watch_parent(self) -> None:
        parent = os.getppid()
        while True:
            await asyncio.sleep(1.0)
            if os.getppid() != parent:
                log.error("the parent process is gone: ending the bridge")
                self._stop.set()
                return

    async def _read(self, sock: Any, handle: Any) -> None:
        while True:
            frames = await sock.recv_multipart(copy=True)
            try:
                idents, parts = self.session.feed_identities(frames, copy=True)
                msg = self.session.deserialize(parts, content=True, copy=True)
            except Exception as exc:  # a bad signature or a malformed message: dropped
                log.warning("dropped an invalid message: %s", exc)
                continue
            try:
                await handle(idents, msg)
            except Exception:
                log.exception("error while handling %s", msg.get("header", {}).get("msg_type"))

    # ------------------------------------------------------------------ control
    async def _on_control(self, idents: list[bytes], msg: dict[str, Any]) -> None:
        msg_type = msg["header"]["msg_type"]
        self._status("busy", msg)
        try:
            if msg_type == "kernel_info_request":
                self._reply(self.control, idents, msg, await self._kernel_info())
            elif msg_type == "interrupt_request":
                self.client.interrupt()
                self._reply(self.control, idents, msg, {"status": "ok"})
            elif msg_type == "shutdown_request":
                restart = bool(msg["content"].get("restart", False))
                content = {"status": "ok", "restart": restart}
                self._reply(self.control, idents, msg, content)
                self.publish(Outgoing("shutdown_reply", content), msg)
                self._stop.set()
            else:
                log.warning("unsupported control request %s", msg_type)
        finally:
            self._status("idle", msg)

    async def _kernel_info(self) -> dict[str, Any]:
        from subprocess_host.jupyter.kernelspec import amphikernel_version

        assert self._ready is not None
        info = await asyncio.shield(self._ready)
        return m.kernel_info_content(info.python, amphikernel_version())

    # -------------------------------------------------------------------- stdin
    async def _on_stdin(self, idents: list[bytes], msg: dict[str, Any]) -> None:
        if msg["header"]["msg_type"] != "input_reply" or self._input is None:
            return
        request_id = self._input[0]
        self._input = None
        await self.client.send(protocol.InputReply(request_id=request_id, text=str(msg["content"].get("value", ""))))

    # -------------------------------------------------------------------- shell
    async def _on_shell(self, idents: list[bytes], msg: dict[str, Any]) -> None:
        await self._shell_queue.put((idents, msg))

    async def _shell_worker(self) -> None:
        assert self._ready is not None
        with contextlib.suppress(Exception):
            await asyncio.shield(self._ready)
        while True:
            idents, msg = await self._shell_queue.get()
            self._parent = msg
            try:
                self._status("busy", msg)
                await self._on_shell_request(idents, msg)
            except Exception:  # the worker must go on: one bad request never stops the shell
                log.exception("error while serving %s", msg["header"]["msg_type"])
            finally:
                with contextlib.suppress(Exception):
                    self._status("idle", msg)

    async def _on_shell_request(self, idents: list[bytes], msg: dict[str, Any]) -> None:
        msg_type = msg["header"]["msg_type"]
        content = msg.get("content") or {}
        if msg_type == "execute_request":
            try:
                await self._execute(idents, msg)
            except Exception as exc:  # never leave a client waiting for its reply
                log.exception("execute_request failed in the bridge")
                error = {"ename": type(exc).__name__, "evalue": f"amphikernel bridge: {exc}", "traceback": []}
                self.publish(Outgoing("error", error))
                self._reply(self.shell, idents, msg, {"status": "error", "execution_count": self.execution_count,
                                                      **error})  # fmt: skip
        elif msg_type == "kernel_info_request":
            self._reply(self.shell, idents, msg, await self._kernel_info())
        elif msg_type == "complete_request":
            code = str(content.get("code", ""))
            cursor = int(content.get("cursor_pos", len(code)) if content.get("cursor_pos") is not None else len(code))
            self._reply(self.shell, idents, msg, complete_content(await self._complete(code, cursor), cursor))
        elif msg_type == "inspect_request":
            code = str(content.get("code", ""))
            cursor = int(content.get("cursor_pos", len(code)) if content.get("cursor_pos") is not None else len(code))
            _start, end, name = word_at(code, cursor)
            result = await self._complete(code[:end], end) if name else None
            self._reply(self.shell, idents, msg, inspect_content(name, result, int(content.get("detail_level", 0))))
        elif msg_type == "is_complete_request":
            self._reply(self.shell, idents, msg, is_complete(str(content.get("code", ""))))
        elif msg_type == "history_request":
            self._reply(self.shell, idents, msg, self.history.reply(content))
        elif msg_type == "comm_info_request":
            self._reply(self.shell, idents, msg, {"status": "ok", "comms": self.comms.comm_info(content.get("target_name"))})
        elif msg_type == "comm_open":
            for out in self.comms.comm_open(content):
                self.publish(out)
        elif msg_type == "comm_msg":
            commands, replies = self.comms.comm_msg(content, [bytes(b) for b in msg.get("buffers") or []])
            for out in replies:
                self.publish(out)
            for command in commands:
                self.translator.begin(RunState(cell_id=None))
                await self.client.send(command)
        elif msg_type == "comm_close":
            self.comms.comm_close(content)
        elif msg_type == "connect_request":
            self._reply(self.shell, idents, msg, {"status": "ok", **{f"{k}_port": v for k, v in self.conn.ports.items()}})
        else:
            log.warning("unsupported shell request %s", msg_type)

    async def _complete(self, code: str, cursor: int) -> protocol.CompletionResult | None:
        request_id = uuid.uuid4().hex
        future: asyncio.Future[protocol.CompletionResult] = asyncio.get_running_loop().create_future()
        self._completions[request_id] = future
        try:
            await self.client.send(protocol.Complete(request_id=request_id, code=code, cursor=cursor))
            return await asyncio.wait_for(future, COMPLETE_TIMEOUT)
        except (asyncio.TimeoutError, RuntimeError):
            return None
        finally:
            self._completions.pop(request_id, None)

    async def _execute(self, idents: list[bytes], msg: dict[str, Any]) -> None:
        content = msg["content"]
        code = str(content.get("code", ""))
        silent = bool(content.get("silent", False))
        store = bool(content.get("store_history", True)) and not silent
        if store:
            self.execution_count += 1
        count = self.execution_count
        deleted = [c for c in (msg.get("metadata") or {}).get("deletedCells") or [] if c in self.known_cells]
        if deleted:
            self.known_cells.difference_update(deleted)
            self.translator.forget(deleted)
            self.translator.begin(RunState(cell_id=None))
            await self.client.send(protocol.DeleteCells(cell_ids=deleted))
        if not silent:
            self.publish(Outgoing("execute_input", {"code": code, "execution_count": count}))
        name = help_target(code)
        if name is not None:  # ``obj?``: the pager, as IPython answers it (no cell is made)
            found = inspect_content(name, await self._complete(name, len(name)))
            payload = [{"source": "page", "data": found["data"], "start": 0}] if found["found"] else []
            if not found["found"]:
                self.publish(m.stream("stdout", f"Object `{name}` not found.\n"))
            if store:
                self.history.add(count, code, None)
            self._reply(self.shell, idents, msg, {"status": "ok", "execution_count": count, "payload": payload,
                                                  "user_expressions": {}})  # fmt: skip
            return
        named = _cell_id(msg)
        cell_id = named or f"jupyter-{uuid.uuid4().hex[:12]}"
        self.known_cells.add(cell_id)
        run = RunState(cell_id=cell_id, execution_count=count, silent=silent, result_as_display=named is not None)
        self._run_done = asyncio.Event()
        self._stdin_allowed = (idents, msg) if content.get("allow_stdin") else None
        self.translator.begin(run)
        try:
            await self.client.send(protocol.ExecuteCells(cell_ids=[cell_id], codes=[code]))
            await self._run_done.wait()
        finally:
            self._stdin_allowed = None
            self._input = None
        if not run.done:  # the kernel died
            run.error = run.error or {"ename": "DeadKernelError", "evalue": "the kernel process died", "traceback": []}
        expressions = {name: {"status": "error", "ename": "NotImplementedError", "traceback": [],
                              "evalue": "amphikernel does not evaluate user_expressions"}
                       for name in content.get("user_expressions") or {}}  # fmt: skip
        if run.error is not None:
            reply = {"status": "error", "execution_count": count, **run.error, "user_expressions": expressions}
        else:
            reply = {"status": "ok", "execution_count": count, "payload": [], "user_expressions": expressions}
        if store:
            self.history.add(count, code, run.result_text)
        self._reply(self.shell, idents, msg, reply)
        if run.error is not None and content.get("stop_on_error", True):
            self._abort_queued()

    def _abort_queued(self) -> None:
        """After an error with ``stop_on_error``: every execute request already waiting is
        answered ``aborted`` (other requests stay queued, in order)."""
        kept = []
        while not self._shell_queue.empty():
            idents, msg = self._shell_queue.get_nowait()
            if msg["header"]["msg_type"] == "execute_request":
                self._status("busy", msg)
                self._reply(self.shell, idents, msg, {"status": "aborted", "execution_count": self.execution_count})
                self._status("idle", msg)
            else:
                kept.append((idents, msg))
        for item in kept:
            self._shell_queue.put_nowait(item)
