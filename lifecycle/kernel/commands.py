"""The kernel's handlers of the commands that are not about cells: UI-element and widget
updates, configuration, input replies, completion, package installs, interrupt and stop.

The services behind them (UI registry, widget manager, stdin broker, completer, installer)
are given to the kernel in ``Kernel.extensions`` by :mod:`lifecycle.kernel_lifecycle`; the
kernel imports none of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lifecycle import protocol
from lifecycle.kernel.ui_updates import merge_ui_updates

if TYPE_CHECKING:  # pragma: no cover
    from lifecycle.context import Emit, KernelContext
    from lifecycle.graph import DataflowGraph
    from lifecycle.kernel.config import KernelConfig


class CommandHandlers:
    """Mixin of :class:`lifecycle.kernel.Kernel`: the service commands' handlers.

    The class using it provides ``extensions``, ``emit``, ``config``, ``graph``, ``context``
    and ``run``.
    """

    extensions: dict[str, Any]
    emit: Emit
    config: KernelConfig
    graph: DataflowGraph
    context: KernelContext

    if TYPE_CHECKING:  # pragma: no cover

        async def run(self, roots: Iterable[str]) -> list[str]: ...

    async def _on_ui_update(self, cmd: protocol.UpdateUIElement) -> None:
        await self.apply_ui_updates(cmd.values, {})

    async def _on_widget_model(self, cmd: protocol.WidgetModel) -> None:
        if cmd.method == "update":
            await self.apply_ui_updates({}, merge_ui_updates([cmd])[1])
            return
        manager = self.extensions.get("widgets")
        if manager is None:
            raise LookupError(f"no widget model with id {cmd.model_id!r}")
        roots = manager.custom(cmd)
        if roots:
            await self.run(roots)

    async def apply_ui_updates(
        self, values: dict[str, Any], models: dict[str, dict[str, Any]]
    ) -> None:
        """Apply UI element values (element id -> value) and widget state deltas (model id ->
        state) and run the cells that read them, once.

        Raises:
            LookupError: no UI element or widget model with one of the ids (nothing changes).
        """
        roots: set[str] = set()
        if values:
            registry = self.extensions.get("ui")
            if registry is None:
                raise LookupError(f"no UI element with id {next(iter(values))!r}")
            roots |= registry.apply(values)
        if models:
            manager = self.extensions.get("widgets")
            if manager is None:
                raise LookupError(f"no widget model with id {next(iter(models))!r}")
            for model_id, state in models.items():
                roots |= manager.apply(model_id, state)
        if roots:
            await self.run(roots)

    def _on_interrupt(self, cmd: protocol.Interrupt) -> None:
        # Interrupts reach a running cell out of band (signal, async exception, interrupt
        # buffer).  Arriving here the kernel is idle: nothing to interrupt.
        return

    def _on_set_config(self, cmd: protocol.SetConfig) -> None:
        if cmd.semantics is not None and cmd.semantics != self.graph.semantics:
            self.config.semantics = cmd.semantics
            self.graph.semantics = cmd.semantics
        if cmd.output_max_bytes is not None:
            self.config.output_max_bytes = cmd.output_max_bytes
            self.context.output_max_bytes = cmd.output_max_bytes
        if cmd.autorun is not None:
            self.config.autorun = cmd.autorun

    def _on_input_reply(self, cmd: protocol.InputReply) -> None:
        stdin = self.extensions.get("stdin")
        if stdin is None or not stdin.deliver(cmd):
            raise LookupError(f"input-reply {cmd.request_id!r}: no input() is waiting for it")

    def _on_complete(self, cmd: protocol.Complete) -> None:
        completer = self.extensions.get("completer")
        if completer is None:
            raise LookupError("no completer is installed in this kernel")
        completer(cmd)

    async def _on_install(self, cmd: protocol.InstallPackages) -> None:
        installer = self.extensions.get("installer")
        if installer is None:
            raise LookupError("no package installer is installed in this kernel")
        result = installer(cmd.packages)
        if hasattr(result, "__await__"):
            result = await result
        installed, failed = result
        self.emit(protocol.PackagesInstalled(request_id=cmd.request_id, installed=installed, failed=failed))

    def _on_stop(self, cmd: protocol.Stop) -> None:
        return  # the control loop ends on stop; teardown follows
