"""The reactive kernel: owns the cells, the dataflow graph and the globals, runs cells.

A :class:`Kernel` handles one command at a time (:meth:`Kernel.handle_message`) and reports
everything through ``emit`` (protocol notifications).  Running a cell runs every cell
downstream of it, in topological (then file) order, once; a cell that reads a name a failed
cell did not bind (it raised first) is marked ``errored-ancestor`` and not run.  Names the
failed cell did bind before it raised are fresh values of this run, as in a top-to-bottom run
(Jupyter): their readers run (``class E(Exception): ...`` followed by ``raise E()`` in one cell
defines ``E`` for the cells below).

Script semantics and redefinitions: the kernel remembers, per cell, the values it bound
(its *contribution*).  Before a cell runs, each name it reads or writes is set to the nearest
contribution above it; after a run, each touched name is set to the last contribution in the
notebook.  The globals therefore always equal what running the current cells top to bottom
would give, without re-running the cells that shadow a name.
"""

from __future__ import annotations

import logging
import sys
import time
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lifecycle import context as context_mod
from lifecycle import protocol
from lifecycle.analysis import analyze_cell
from lifecycle.execution import (
    CompiledCell,
    compile_cell,
    forget_source,
    format_exception,
    is_coroutine_code,
    run_compiled,
    run_compiled_sync,
)
from lifecycle.graph import DataflowGraph, GraphError
from lifecycle.kernel.commands import CommandHandlers
from lifecycle.kernel.config import KernelConfig, Outcome
from lifecycle.kernel.values import ABSENT, INHERIT, Materializer
from lifecycle.kernel.variables import describe_variables

log = logging.getLogger("amphikernel.kernel")


def _is_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` is asyncio's task cancellation (without importing asyncio)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


PreHook = Callable[["Kernel", str], None]
PostHook = Callable[["Kernel", str, Outcome], None]
FinishHook = Callable[["Kernel", list[str]], None]
CellHook = Callable[["Kernel", str], Any]


@dataclass
class Hooks:
    """Callbacks around execution: before each cell, after each cell, after each run.

    ``before_cell`` hooks run as part of the cell itself: after it is announced ``running``
    and its console is captured, before its code.  They may be coroutine functions (awaited:
    a host can install what the cell imports first).  An exception they raise is the cell's
    error, and the cell's code does not run.
    """

    pre_execution: list[PreHook] = field(default_factory=list)
    post_execution: list[PostHook] = field(default_factory=list)
    on_finish: list[FinishHook] = field(default_factory=list)
    before_cell: list[CellHook] = field(default_factory=list)


class Kernel(CommandHandlers, Materializer):
    """A reactive Python kernel.

    Args:
        emit: sends a notification (thread-safe; see :data:`lifecycle.context.Emit`).
        context: the kernel's :class:`~lifecycle.context.KernelContext`.
        config: settings; see :class:`KernelConfig`.
        hooks: execution hooks (from :func:`lifecycle.kernel_lifecycle.build_hooks`).
        console: console capture (:mod:`lifecycle.streams`) or ``None`` for no capture.
        namespace: the globals to run cells in (default: a fresh ``__main__`` module dict).
    """

    def __init__(
        self,
        emit: context_mod.Emit,
        context: context_mod.KernelContext,
        config: KernelConfig | None = None,
        hooks: Hooks | None = None,
        console: Any = None,
        namespace: dict[str, Any] | None = None,
    ) -> None:
        self.emit = emit
        self.context = context
        self.config = config or KernelConfig()
        self.hooks = hooks or Hooks()
        self.console = console
        self.graph = DataflowGraph(self.config.semantics)
        if namespace is None:
            module = types.ModuleType("__main__")
            module.__dict__["__builtins__"] = sys.modules["builtins"]
            self.module = module
            namespace = module.__dict__
        else:
            self.module = types.ModuleType("__main__")
        self.globals: dict[str, Any] = namespace
        self._saved_main: Any = None
        if self.config.install_main:
            self._saved_main = sys.modules.get("__main__")
            sys.modules["__main__"] = self.module
        self._compiled: dict[str, CompiledCell] = {}
        self._contrib: dict[str, dict[str, Any]] = {}
        self._errored: set[str] = set()
        self._unbound: dict[str, frozenset[str]] = {}
        """Cells whose last run raised: the names they define but did not bind before raising.
        A failed cell without an entry (skipped, interrupted, structural error) binds none."""
        self._pending_names: set[str] = set()
        self.stale: set[str] = set()
        self.status: dict[str, str] = {}
        self.running_cell: str | None = None
        self._private_loop: Any = None
        self.closed = False
        self.extensions: dict[str, Any] = context.extensions
        self._handlers: dict[type, Callable[[Any], Any]] = {
            protocol.ExecuteCells: self._on_execute,
            protocol.DeleteCells: self._on_delete,
            protocol.UpdateUIElement: self._on_ui_update,
            protocol.WidgetModel: self._on_widget_model,
            protocol.Interrupt: self._on_interrupt,
            protocol.SetConfig: self._on_set_config,
            protocol.InputReply: self._on_input_reply,
            protocol.Complete: self._on_complete,
            protocol.InstallPackages: self._on_install,
            protocol.Stop: self._on_stop,
            protocol.StoppedAck: self._on_stop,
        }
        self.extensions["flush_console"] = self.flush_console
        self.extensions["emit_error"] = self._emit_error  # redacts tracebacks in run mode

    # ------------------------------------------------------------------ dispatch
    async def handle_message(self, command: Any) -> None:
        """Handle one command (a :data:`lifecycle.protocol.Command`).

        Raises:
            TypeError: ``command`` is not a known command object (the control loop reports
                it as a ``kernel-error`` and goes on).
        """
        handler = self._handlers.get(type(command))
        if handler is None:
            raise TypeError(f"unsupported command {type(command).__name__}")
        result = handler(command)
        if result is not None and hasattr(result, "__await__"):
            await result

    # ------------------------------------------------------------------ commands
    async def _on_execute(self, cmd: protocol.ExecuteCells) -> None:
        if len(cmd.cell_ids) != len(cmd.codes):
            raise ValueError(
                f"execute-cells: {len(cmd.cell_ids)} cell ids but {len(cmd.codes)} codes"
            )
        roots = self.register_cells(dict(zip(cmd.cell_ids, cmd.codes)), cmd.order)
        await self.run(roots)

    def register_cells(self, codes: dict[str, str], order: Iterable[str] | None = None) -> set[str]:
        """Add or change cells (and set the order); returns the cells that must run: the
        given ones plus cells whose binding changed (readers of names a cell stopped
        defining, readers captured or released by a reorder)."""
        graph = self.graph
        roots = set(codes)
        touched_names: set[str] = set()
        for cell_id, code in codes.items():
            old = graph.cells.get(cell_id)
            if old is not None and old.code != code:
                roots |= graph.children(cell_id)
                touched_names |= old.analysis.defs
                self._compiled.pop(cell_id, None)
            graph.upsert(cell_id, code)
        if order is not None:
            before = {cid: graph.parents(cid) for cid in graph.order}
            old_order = list(graph.order)
            graph.set_order(order)
            if graph.order != old_order:
                moved = {c for c in graph.order if graph.parents(c) != before.get(c, set())}
                roots |= moved
                for cid in graph.order:
                    touched_names |= graph.cells[cid].analysis.defs
        self._pending_names |= touched_names
        return roots

    async def _on_delete(self, cmd: protocol.DeleteCells) -> None:
        await self.delete_cells(cmd.cell_ids)

    async def delete_cells(self, cell_ids: Iterable[str]) -> None:
        """Remove cells: their names leave the globals (or fall back to a definition above,
        under script semantics) and their dependents re-run."""
        dependents: set[str] = set()
        names: set[str] = set()
        for cid in cell_ids:
            if cid not in self.graph:
                self.emit(protocol.KernelError(message=f"delete-cells: unknown cell {cid!r}", command_type="delete-cells"))
                continue
            dependents |= self.graph.children(cid)
            names |= self.graph.cells[cid].analysis.defs
            self._forget_cell(cid)
        dependents = {d for d in dependents if d in self.graph}
        self._pending_names |= names
        await self.run(dependents)

    def _forget_cell(self, cid: str) -> None:
        vfiles = self.context.virtual_files
        if vfiles is not None:
            vfiles.release_owner(cid)
        for hook in self.extensions.get("cell_removed_hooks", ()):
            hook(cid)
        compiled = self._compiled.pop(cid, None)
        if compiled is not None:
            forget_source(compiled.filename)
        self._contrib.pop(cid, None)
        self._unbound.pop(cid, None)
        self._errored.discard(cid)
        self.stale.discard(cid)
        self.status.pop(cid, None)
        self.graph.remove(cid)

    # ----------------------------------------------------------------------- run
    async def run(self, roots: Iterable[str]) -> list[str]:
        """Run ``roots`` and everything downstream of them; returns the cells that ran.

        Emits ``cell-status`` for each cell, outputs, errors and a final ``completed-run``.
        A ``KeyboardInterrupt`` or ``SystemExit`` in a cell ends the run (the remaining
        cells become stale); the kernel keeps serving.
        """
        graph = self.graph
        roots = [r for r in roots if r in graph]
        order, cycle_errors = self._run_order(roots)
        if not self.config.autorun:
            keep = set(roots)
            for cid in order:
                if cid not in keep:
                    self.stale.add(cid)
                    self._set_status(cid, "stale")
            order = [c for c in order if c in keep]
        structural = {**graph.errors(order), **cycle_errors}
        names, self._pending_names = self._pending_names, set()
        # Names whose definitions changed (edits, deletions) start from their new final value.
        self._materialize_final(names)
        for cid in order:
            self._set_status(cid, "queued")
        # Cells that failed (or were skipped) before and are not re-run now still block their
        # readers: nothing runs on a failed cell's values.
        in_run = set(order)
        failed: set[str] = {c for c in self._errored if c not in in_run}
        ran: list[str] = []
        for cid, error in cycle_errors.items():
            self._report_structural(cid, error)
            failed.add(cid)
            self._drop_contribution(cid, names)
        ended = False
        definers = graph._definers
        for cid in order:
            analysis = graph.cells[cid].analysis
            names |= analysis.defs
            # Names it reads are set to their value above it while it runs: restore them after.
            names.update(n for n in analysis.refs if n in definers)
            if ended:
                self.stale.add(cid)
                self._set_status(cid, "stale")
                continue
            if cid in structural:
                self._report_structural(cid, structural[cid])
                failed.add(cid)
                self._drop_contribution(cid, names)
                continue
            if failed and self._reads_unbound(cid, failed):
                failed.add(cid)
                self._errored.add(cid)
                self._drop_contribution(cid, names)
                self._set_status(cid, "errored-ancestor")
                continue
            outcome = await self._run_cell(cid)
            ran.append(cid)
            self.stale.discard(cid)
            if outcome in ("error", "interrupted", "exited"):
                failed.add(cid)
            if outcome in ("interrupted", "exited"):
                ended = True
        self._materialize_final(names)
        for hook in self.hooks.on_finish:
            self._call_hook(hook, self, ran)
        self.emit(protocol.CompletedRun(cell_ids=ran))
        return ran

    def _report_structural(self, cid: str, error: GraphError) -> None:
        if error.kind == "syntax":
            exc = self.graph.cells[cid].analysis.error
            note = format_exception(exc) if exc is not None else None
            if note is not None:
                note.cell_id = cid
                self._emit_error(note)
        else:
            self._emit_error(
                protocol.CellError(
                    cell_id=cid, ename=f"{'MultipleDefinitionError' if error.kind == 'multiple-definition' else 'CycleError'}",
                    evalue=error.message,
                )
            )
        self._errored.add(cid)
        self._set_status(cid, "idle")

    def _set_status(self, cid: str, status: protocol.CellStatusName) -> None:
        self.status[cid] = status
        self.emit(protocol.CellStatus(cell_id=cid, status=status, timestamp=time.time()))

    def _emit_error(self, error: protocol.CellError) -> None:
        if self.config.redact_tracebacks:
            error.traceback = f"{error.ename}: {error.evalue}"
            for frame in error.frames:
                frame.line = ""
        self.emit(error)


    # ------------------------------------------------------------------ one cell
    def _compile(self, cid: str) -> CompiledCell:
        node = self.graph.cells[cid]
        compiled = self._compiled.get(cid)
        if compiled is None or compiled.code != node.code:
            analysis = node.analysis
            if analysis.tree is None:  # dropped after an earlier compile: parse again
                analysis = analyze_cell(node.code, f"<cell {cid}>")
            assert analysis.tree is not None
            compiled = compile_cell(cid, node.code, analysis.tree, parsed_from_code=analysis.from_source)
            self._compiled[cid] = compiled
            # The tree is only needed to compile: a 1,000-cell notebook would otherwise keep
            # tens of thousands of AST nodes alive for the collector to traverse on every
            # full collection.  A changed cell gets a new analysis (and tree) from the graph.
            node.analysis = node.analysis.without_tree()
        return compiled

    def _call_hook(self, hook: Callable[..., Any], *args: Any) -> None:
        try:
            hook(*args)
        except Exception as exc:  # a broken hook must not break the kernel
            log.exception("execution hook %r failed", hook)
            self.emit(protocol.KernelError(message=f"execution hook failed: {exc!r}"))

    async def _run_cell(self, cid: str) -> Outcome:
        node = self.graph.cells[cid]
        self._materialize_before(cid)
        # Warnings the cell's code issues show on every run of it, as in a fresh run: the
        # "once per location" registry of the cells' module starts empty for each cell run.
        self.globals.pop("__warningregistry__", None)
        before_defs = {name: self.globals.get(name, ABSENT) for name in node.analysis.defs}
        vfiles = self.context.virtual_files
        if vfiles is not None:
            vfiles.release_owner(cid)
        self._errored.discard(cid)
        for hook in self.hooks.pre_execution:
            self._call_hook(hook, self, cid)
        before = dict(self.globals) if node.analysis.star_import else None
        outcome: Outcome = "ok"
        value: Any = None
        ctx = self.context
        token = context_mod.activate(ctx)
        ctx.cell_id = cid
        console = self.console
        # From the moment the cell is announced as running, an interrupt belongs to it: it
        # lands inside the try below, never in the control loop.
        self.running_cell = cid
        try:
            try:
                self._set_status(cid, "running")
                if console is not None:
                    console.start_cell(cid)
                for cell_hook in self.hooks.before_cell:
                    pending = cell_hook(self, cid)
                    if pending is not None and hasattr(pending, "__await__"):
                        await pending
                compiled = self._compile(cid)
                if (compiled.body is None or not is_coroutine_code(compiled.body)) and (
                    compiled.last_expr is None or not is_coroutine_code(compiled.last_expr)
                ):
                    value = run_compiled_sync(compiled, self.globals)
                else:
                    value = await self._await_cell(compiled)
            except KeyboardInterrupt as exc:
                outcome = "interrupted"
                self._cell_exception(cid, exc)
            except SystemExit as exc:
                outcome = "exited"
                self._cell_exception(cid, exc)
            except BaseException as exc:
                if isinstance(exc, GeneratorExit) or _is_cancellation(exc):
                    raise
                outcome = "error"
                self._cell_exception(cid, exc)
            if outcome == "ok" and value is not None:
                self._display_result(cid, value)
        finally:
            if console is not None:
                console.end_cell()
            self.running_cell = None
            ctx.cell_id = None
            context_mod.deactivate(token)
            contrib = {}
            for name in node.analysis.defs:
                value = self.globals.get(name, ABSENT)
                contrib[name] = INHERIT if value is before_defs.get(name, ABSENT) else value
            self._contrib[cid] = contrib
            if outcome == "error":
                self._unbound[cid] = frozenset(n for n, v in contrib.items() if v is INHERIT)
            else:
                self._unbound.pop(cid, None)
        if before is not None:
            self._record_star_import(cid, before)
        for hook in self.hooks.post_execution:
            self._call_hook(hook, self, cid, outcome)
        self._set_status(cid, "idle")
        return outcome

    async def _await_cell(self, compiled: CompiledCell) -> Any:
        """Run a cell that uses top-level ``await``: in the running event loop when there is
        one (Pyodide, thread hosts), else in the kernel's own loop, created on first use
        (the subprocess kernel drives its control loop without asyncio)."""
        asyncio = sys.modules.get("asyncio")
        if asyncio is not None and asyncio._get_running_loop() is not None:
            return await run_compiled(compiled, self.globals)
        import asyncio

        if self._private_loop is None:
            self._private_loop = asyncio.new_event_loop()
        return self._private_loop.run_until_complete(run_compiled(compiled, self.globals))

    def _record_star_import(self, cid: str, before: dict[str, Any]) -> None:
        new = [n for n, v in self.globals.items() if before.get(n, ABSENT) is not v and not n.startswith("__")]
        if new:
            self.graph.add_dynamic_defs(cid, new)
            self._contrib[cid].update({n: self.globals[n] for n in new})

    def _cell_exception(self, cid: str, exc: BaseException) -> None:
        self._errored.add(cid)
        try:
            error = format_exception(exc)
        except Exception as fmt_exc:  # pragma: no cover - formatting must never escape
            error = protocol.CellError(cell_id=cid, ename=type(exc).__name__, evalue=f"<unprintable: {fmt_exc!r}>")
        error.cell_id = cid
        self._emit_error(error)

    def flush_console(self) -> None:
        """Deliver the running cell's pending console output now.  Called before each output
        of the cell (its result, ``display()``), as IPython flushes ``sys.stdout`` and
        ``sys.stderr`` before it publishes one: what a cell printed before it displayed
        something comes first (console batching would otherwise deliver it later)."""
        if self.console is not None:
            try:
                self.console.flush()
            except Exception:  # delivery problems are the console's to report
                log.exception("console flush before an output failed")

    def _display_result(self, cid: str, value: Any) -> None:
        self_display = self.extensions.get("ipython_display")  # _ipython_display_ (display)
        if self_display is not None and self_display(value):
            return  # the value showed itself
        format_value = self.extensions.get("format_value", _plain_text)
        try:
            data, metadata = format_value(value, max_bytes=self.config.output_max_bytes)
        except Exception as exc:  # format_value is defensive; this is a last resort
            data, metadata = {"text/plain": f"<output could not be formatted: {exc!r}>"}, {}
        self.flush_console()  # after formatting: a __repr__ that prints comes first too
        self.emit(protocol.CellOutput(cell_id=cid, data=data, metadata=metadata, kind="result"))

    # ------------------------------------------------------------------ teardown
    def close(self) -> None:
        """Release the kernel's globals and restore ``sys.modules["__main__"]`` (idempotent)."""
        if self.closed:
            return
        self.closed = True
        if self._private_loop is not None:
            self._private_loop.close()
            self._private_loop = None
        for compiled in self._compiled.values():
            forget_source(compiled.filename)
        self._compiled.clear()
        self._contrib.clear()
        self._unbound.clear()
        if self.config.install_main and sys.modules.get("__main__") is self.module:
            if self._saved_main is not None:
                sys.modules["__main__"] = self._saved_main
            else:
                sys.modules.pop("__main__", None)
        builtins_ref = self.globals.get("__builtins__")
        self.globals.clear()
        if builtins_ref is not None:
            self.globals["__builtins__"] = builtins_ref

    def defined_variables(self, cell_ids: Iterable[str]) -> dict[str, list[protocol.VariableInfo]]:
        """The globals each cell defines now: name, type name and a short repr."""
        return describe_variables(self.graph, self.globals, cell_ids)


def _plain_text(value: Any, max_bytes: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fallback formatter of a kernel without ``extensions["format_value"]``."""
    return {"text/plain": repr(value)}, {}
