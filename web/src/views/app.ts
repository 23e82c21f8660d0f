// Run mode: the notebook as an app.  Outputs only (code hidden, console hidden), markdown
// rendered, UI elements live, a thin progress bar at the top while cells run.
import { renderMarkdown } from "../render/markdown";
import type { RenderContext } from "../render/output";
import type { CellState, Session } from "../session";
import { basename, bootProgress, connectionBanner, el, kernelIndicator, renderContext, toasts } from "./common";
import { OutputArea } from "./outputs";

class AppCell {
  readonly el: HTMLElement;
  readonly outputs: OutputArea | null = null;
  private readonly promptHost: HTMLElement;

  constructor(
    readonly cell: CellState,
    private readonly session: Session,
    ctx: RenderContext,
  ) {
    this.el = el("section", { class: `app-cell ${cell.kind}`, "data-cell-id": cell.id });
    this.promptHost = el("div", { class: "input-prompt-host" });
    if (cell.kind === "markdown") {
      const body = el("div", { class: "cell-markdown" });
      renderMarkdown(cell.source, body);
      this.el.append(body);
    } else if (cell.kind === "code") {
      this.outputs = new OutputArea(ctx, { console: false });
      this.el.append(this.outputs.el, this.promptHost);
      for (const item of cell.outputs) this.outputs.append(item);
    }
    this.update();
  }

  update(): void {
    const c = this.cell;
    this.el.dataset.status = c.status ?? "not-run";
    this.el.classList.toggle("running", c.status === "running" || c.status === "queued");
    if (c.status !== "running" && c.status !== "queued") this.outputs?.settle();
    const visible =
      this.cell.kind === "markdown" ? this.cell.source.trim() !== "" : !!this.outputs?.occupied || !!c.input;
    this.el.hidden = !visible;
  }

  updateInput(): void {
    const request = this.cell.input;
    this.promptHost.replaceChildren();
    if (request) {
      const form = el("form", { class: "input-prompt" });
      const field = el("input", {
        type: request.password ? "password" : "text",
        "aria-label": request.prompt || "Input",
        autocomplete: "off",
      });
      form.append(el("label", {}, request.prompt || "Input:"), field, el("button", { type: "submit", class: "btn small" }, "Send"));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.session.replyInput(this.cell.id, field.value);
      });
      this.promptHost.append(form);
      requestAnimationFrame(() => field.focus());
    }
    this.update();
  }

  destroy(): void {
    this.outputs?.dispose();
    this.el.remove();
  }
}

export class AppView {
  readonly root: HTMLElement;
  private readonly list: HTMLElement;
  private readonly progress: HTMLElement;
  private readonly bar: HTMLElement;
  private readonly cells = new Map<string, AppCell>();
  private readonly ctx: RenderContext;
  private readonly cleanups: Array<() => void> = [];
  private runTotal = 0;

  constructor(
    private readonly session: Session,
    container: HTMLElement,
    retry: () => void,
  ) {
    this.ctx = renderContext(session);
    this.root = el("div", { class: "amphi app-view" });
    this.bar = el("div", { class: "run-progress-bar" });
    this.progress = el("div", {
      class: "run-progress",
      role: "progressbar",
      "aria-label": "Cells running",
      "aria-hidden": "true",
    });
    this.progress.append(this.bar);
    const title = el("div", { class: "app-name" }, basename(session.path).replace(/\.(py|ipynb)$/i, "") || "app");
    const header = el("header", { class: "app-header" }, title, kernelIndicator(session));
    this.list = el("main", { class: "app-cells" });
    this.root.append(this.progress, header, bootProgress(session), connectionBanner(session, retry), this.list, toasts(session));
    container.replaceChildren(this.root);
    document.title = `${basename(session.path)} — amphikernel`;
    this.cleanups.push(
      session.on("structure", () => this.reconcile()),
      session.on("status", (id) => this.cells.get(id)?.update()),
      session.on("output", ({ cellId, item }) => {
        const view = this.cells.get(cellId);
        view?.outputs?.append(item);
        view?.update();
      }),
      session.on("update", ({ cellId, message }) => this.cells.get(cellId)?.outputs?.update(message)),
      session.on("clear", (id) => {
        const view = this.cells.get(id);
        view?.outputs?.clear(session.cell(id)?.status === "running");
        view?.update();
      }),
      session.on("input", (id) => this.cells.get(id)?.updateInput()),
      session.on("kernel", () => this.updateProgress()),
      session.on("reveal", ({ cellId }) => this.cells.get(cellId)?.el.scrollIntoView({ block: "center" })),
    );
    this.reconcile();
  }

  private reconcile(): void {
    const keep = new Set(this.session.cells.map((c) => c.id));
    for (const [id, view] of this.cells) {
      if (!keep.has(id)) {
        view.destroy();
        this.cells.delete(id);
      }
    }
    for (const cell of this.session.cells) {
      let view = this.cells.get(cell.id);
      if (!view || view.cell !== cell) {
        view?.destroy();
        view = new AppCell(cell, this.session, this.ctx);
        this.cells.set(cell.id, view);
      }
      this.list.append(view.el);
    }
    this.updateProgress();
  }

  private updateProgress(): void {
    const active = this.session.activeCells();
    const busy = active > 0 || this.session.kernelState === "starting";
    if (active > this.runTotal) this.runTotal = active;
    this.progress.classList.toggle("active", busy);
    this.progress.setAttribute("aria-hidden", String(!busy));
    if (active === 0) {
      this.runTotal = 0;
      this.bar.style.width = busy ? "" : "100%";
      this.progress.classList.toggle("indeterminate", busy);
    } else {
      const done = (this.runTotal - active) / this.runTotal;
      this.progress.classList.remove("indeterminate");
      this.bar.style.width = `${Math.max(8, done * 100)}%`;
      this.progress.setAttribute("aria-valuenow", String(Math.round(done * 100)));
    }
  }

  destroy(): void {
    for (const cleanup of this.cleanups) cleanup();
    for (const view of this.cells.values()) view.destroy();
    this.root.remove();
  }
}
