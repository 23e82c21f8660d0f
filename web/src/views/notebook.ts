// Edit mode: the notebook editor.
import type { EditorView } from "@codemirror/view";
import { renderMarkdown } from "../render/markdown";
import type { RenderContext } from "../render/output";
import type { CellState, Session } from "../session";
import {
  basename,
  bootProgress,
  button,
  connectionBanner,
  diskBanner,
  downloadText,
  el,
  formatSeconds,
  kernelIndicator,
  renderContext,
  toasts,
} from "./common";
import { editorModule, loadEditor } from "./editor-module";
import { EAGER_LIMIT, EditorScheduler, staticCode } from "./lazy-editors";
import { OutputArea } from "./outputs";

// CodeMirror is fetched while the cells are built and painted (editor-module.ts).
loadEditor().catch((error: unknown) => console.error("loading the code editor failed", error));

let shellTemplate: HTMLElement | null = null;

/** A new cell's elements: section (header: status, name, tools), editor host, rendered
 * markdown, input prompt host (the output area goes before the prompt host). */
function cellShell(): HTMLElement {
  shellTemplate ??= el(
    "section",
    { class: "cell", role: "group", tabindex: -1 },
    el("div", { class: "cell-header" }, el("span", { class: "cell-status" }), el("span", { class: "cell-name" }), el("div", { class: "cell-tools" })),
    el("div", { class: "cell-editor" }),
    el("div", { class: "cell-markdown", role: "document" }),
    el("div", { class: "input-prompt-host" }),
  );
  return shellTemplate.cloneNode(true) as HTMLElement;
}

/** Cells per group on a first load, and the most a group holds before it is split: the
 * list's children are groups of cells, and in a big notebook each group (not each cell) has
 * `content-visibility: auto` (styles.css): the browser tracks ~25 groups instead of ~1,000
 * cells in every frame (intersection, hit testing, paint layers). */
export const GROUP_SIZE = 40;
export const GROUP_MAX = 64;

function cellGroup(): HTMLElement {
  return el("div", { class: "cell-group" });
}

class CellView {
  readonly el: HTMLElement;
  private readonly statusChip: HTMLElement;
  private readonly nameLabel: HTMLElement;
  private readonly editorHost: HTMLElement;
  private readonly rendered: HTMLElement;
  private readonly promptHost: HTMLElement;
  readonly outputs: OutputArea;
  editor: EditorView | null = null;
  /** The plain-text stand-in shown until the editor is made (big notebooks: lazy-editors.ts). */
  private staticView: HTMLElement | null = null;
  /** Big notebooks: whether the cell has come near the viewport (then its editor, rendered
   * markdown and tool buttons are made), and what build() left to do until then. */
  private near = false;
  private deferred: (() => void) | null = null;
  private readonly tools: HTMLElement;
  private editing = false;
  private destroyed = false;
  private kind: CellState["kind"];

  constructor(
    readonly cell: CellState,
    private readonly view: NotebookView,
    ctx: RenderContext,
  ) {
    this.kind = cell.kind;
    // A clone of one shell built once (a big notebook makes ~1,000 of them before its first paint).
    this.el = cellShell();
    this.el.id = `cell-${cell.id}`;
    this.el.dataset.cellId = cell.id;
    const header = this.el.firstElementChild as HTMLElement;
    this.statusChip = header.children[0] as HTMLElement;
    this.nameLabel = header.children[1] as HTMLElement;
    this.tools = header.children[2] as HTMLElement;
    this.editorHost = header.nextElementSibling as HTMLElement;
    this.rendered = this.editorHost.nextElementSibling as HTMLElement;
    this.promptHost = this.rendered.nextElementSibling as HTMLElement;
    if (this.view.lazyEditors) this.view.editors.watch(this.el, () => this.comeNear());
    else this.comeNear();
    this.rendered.addEventListener("dblclick", () => this.startEditing());
    this.outputs = new OutputArea(ctx, { console: true });
    this.el.insertBefore(this.outputs.el, this.promptHost);
    this.el.addEventListener("focusin", () => this.view.setActive(this.cell.id, false));
    this.el.addEventListener("keydown", (event) => this.view.commandKey(event, this.cell.id));
    this.build();
    for (const item of cell.outputs) this.outputs.append(item);
    this.updateStatus();
    this.updateInput();
  }

  private comeNear(): void {
    this.near = true;
    this.fillTools();
    const pending = this.deferred;
    this.deferred = null;
    pending?.();
  }

  private fillTools(): void {
    if (this.tools.firstChild) return;
    this.tools.append(
      button("run", "Run cell", () => this.view.runCell(this.cell.id, false), { showLabel: false, className: "run" }),
      button("up", "Move cell up", () => this.view.move(this.cell.id, -1), { showLabel: false }),
      button("down", "Move cell down", () => this.view.move(this.cell.id, 1), { showLabel: false }),
      button("text", "Toggle markdown / code", () => this.view.toggleKind(this.cell.id), { showLabel: false }),
      button("plus", "Add cell below", () => this.view.add(this.cell.id, 1, "code", true), { showLabel: false }),
      button("trash", "Delete cell", () => this.view.remove(this.cell.id), { showLabel: false, className: "danger" }),
    );
  }

  private build(): void {
    this.el.classList.toggle("markdown", this.cell.kind === "markdown");
    this.el.classList.toggle("code", this.cell.kind === "code");
    this.el.setAttribute("aria-label", `${this.cell.kind === "markdown" ? "Markdown" : "Code"} cell`);
    this.editor?.destroy();
    this.editor = null;
    this.editorHost.replaceChildren();
    this.editing = false;
    this.staticView = null;
    this.deferred = null;
    if (this.cell.kind === "markdown" && this.cell.source.trim() !== "") {
      if (!this.near) {
        // Rendered when it comes near the viewport; its text until then.
        this.rendered.textContent = this.cell.source;
        this.rendered.hidden = false;
        this.editorHost.hidden = true;
        this.deferred = () => this.showRendered();
      } else {
        this.showRendered();
      }
    } else if (!this.near) {
      this.showStatic();
      this.deferred = () => this.upgrade();
    } else {
      // The code as text first, its editor after the next frame (or once CodeMirror is
      // loaded): the cells are painted before any editor is made.
      this.showStatic();
      this.view.editors.soon(this.el, () => this.upgrade());
    }
  }

  /** Replace the plain-text stand-in by the editor, if the stand-in is still shown. */
  private upgrade(): void {
    if (this.staticView && !this.destroyed) this.withEditor(() => undefined);
  }

  /** Make the editor (loading CodeMirror first if need be), then call `then` with it. */
  private withEditor(then: (editor: EditorView) => void): void {
    if (this.destroyed) return;
    if (!editorModule()) {
      loadEditor().then(
        () => this.withEditor(then),
        (error: unknown) => console.error("loading the code editor failed", error),
      );
      return;
    }
    this.makeEditor();
    if (this.editor) then(this.editor);
  }

  private showStatic(): void {
    this.rendered.hidden = true;
    this.editorHost.hidden = false;
    const placeholder = this.cell.kind === "code" ? "Python code — Shift-Enter runs" : "Markdown — Shift-Enter renders";
    this.staticView = staticCode(this.cell.source, placeholder, (x, y) =>
      this.withEditor((editor) => {
        const pos = x >= 0 ? editor.posAtCoords({ x, y }) : null;
        if (pos !== null) editor.dispatch({ selection: { anchor: pos } });
        editor.focus();
      }),
    );
    this.editorHost.replaceChildren(this.staticView);
  }

  /** Make the editor now (the editor module must be loaded: see withEditor). */
  private makeEditor(): void {
    const cm = editorModule();
    if (!cm) return;
    this.rendered.hidden = true;
    this.editorHost.hidden = false;
    if (this.editor) return;
    this.fillTools();
    if (this.staticView) {
      this.staticView = null;
      this.editorHost.replaceChildren();
    }
    const cellId = this.cell.id;
    this.editor = cm.createEditor({
      parent: this.editorHost,
      doc: this.cell.source,
      language: this.cell.kind === "code" ? "python" : "markdown",
      label: `${this.cell.kind === "code" ? "Code" : "Markdown"} of cell`,
      placeholder: this.cell.kind === "code" ? "Python code — Shift-Enter runs" : "Markdown — Shift-Enter renders",
      onChange: (doc) => this.view.session.setSource(cellId, doc),
      onRunAdvance: () => this.view.runCell(cellId, true),
      onRun: () => this.view.runCell(cellId, false),
      onEscape: () => {
        if (this.cell.kind === "markdown") this.finishEditing();
        this.el.focus();
      },
      onFocus: () => {
        this.editing = true;
        this.el.classList.add("editing");
      },
      onBlur: () => {
        this.editing = false;
        this.el.classList.remove("editing");
      },
      complete: (code, cursor) => this.view.session.complete(code, cursor, cellId),
    });
  }

  private showRendered(): void {
    renderMarkdown(this.cell.source || "*Empty markdown cell: double-click to edit.*", this.rendered);
    this.rendered.hidden = false;
    this.editorHost.hidden = true;
  }

  startEditing(): void {
    if (this.view.session.mode !== "edit") return;
    this.withEditor((editor) => editor.focus());
  }

  /** Markdown: render and leave the editor. */
  finishEditing(): void {
    if (this.cell.kind !== "markdown") return;
    this.editor?.destroy();
    this.editor = null;
    this.editorHost.replaceChildren();
    this.el.classList.remove("editing");
    this.showRendered();
  }

  get isEditing(): boolean {
    return this.editing;
  }

  kindChanged(): void {
    if (this.kind === this.cell.kind) return;
    this.kind = this.cell.kind;
    this.build();
    this.updateStatus();
  }

  sourceChanged(): void {
    if (this.editor) editorModule()?.setEditorText(this.editor, this.cell.source);
    else if (this.staticView) this.showStatic();
    else if (this.cell.kind === "markdown") this.showRendered();
  }

  reveal(line: number): void {
    this.withEditor((editor) => editorModule()?.revealLine(editor, line));
  }

  updateName(index: number): void {
    this.nameLabel.textContent = this.cell.name ? `${index + 1} · ${this.cell.name}` : `${index + 1}`;
  }

  updateStatus(): void {
    const c = this.cell;
    let state = "not-run";
    let text = "";
    if (c.kind !== "code") {
      state = "markdown";
      text = "markdown";
    } else if (c.status === "running") {
      state = "running";
      text = `running ${formatSeconds(c.runStartedAt ? (performance.now() - c.runStartedAt) / 1000 : 0)}`;
    } else if (c.status === "queued") {
      state = "queued";
      text = "queued";
    } else if (c.errored) {
      state = "error";
      text = "error";
    } else if (c.status === "stale") {
      state = "stale";
      text = "stale";
    } else if (c.status === "errored-ancestor") {
      state = "blocked";
      text = "not run: an upstream cell failed";
    } else if (c.status === "disabled") {
      state = "disabled";
      text = "disabled";
    } else if (c.status === "idle") {
      state = "done";
      text = c.lastDuration !== null ? formatSeconds(c.lastDuration) : "ran";
    } else {
      text = "not run";
    }
    const edited = c.kind === "code" && c.ranSource !== undefined && c.source !== c.ranSource && state !== "running";
    // Written only when they change: this runs on every key typed into the cell.
    if (this.el.dataset.status !== state) this.el.dataset.status = state;
    this.el.classList.toggle("edited", edited);
    const chip = edited ? `${text} · edited` : text;
    if (this.statusChip.textContent !== chip) this.statusChip.textContent = chip;
    const title = edited ? "The code changed since it last ran" : text;
    if (this.statusChip.title !== title) this.statusChip.title = title;
    if (c.status !== "running" && c.status !== "queued") this.outputs.settle();
  }

  /** Called every 100 ms while running (elapsed time). */
  tick(): void {
    if (this.cell.status === "running") this.updateStatus();
  }

  updateInput(): void {
    const request = this.cell.input;
    if (!request) {
      this.promptHost.replaceChildren();
      return;
    }
    if (this.promptHost.dataset.requestId === request.request_id && this.promptHost.childElementCount) return;
    this.promptHost.dataset.requestId = request.request_id;
    const form = el("form", { class: "input-prompt" });
    const id = `input-${request.request_id}`;
    const label = el("label", { for: id }, request.prompt || "Input:");
    const field = el("input", {
      id,
      type: request.password ? "password" : "text",
      autocomplete: "off",
      "aria-label": request.prompt || "Input",
    });
    const submit = el("button", { type: "submit", class: "btn small" }, "Send");
    form.append(label, field, submit);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.view.session.replyInput(this.cell.id, field.value);
    });
    field.addEventListener("keydown", (event) => event.stopPropagation());
    this.promptHost.replaceChildren(form);
    requestAnimationFrame(() => field.focus());
  }

  destroy(): void {
    this.destroyed = true;
    this.view.editors.forget(this.el);
    this.editor?.destroy();
    this.outputs.dispose();
    this.el.remove();
  }
}

export class NotebookView {
  readonly root: HTMLElement;
  private readonly list: HTMLElement;
  private readonly views = new Map<string, CellView>();
  private readonly ctx: RenderContext;
  private readonly savedLabel: HTMLElement;
  private readonly saveButton: HTMLButtonElement;
  private activeId: string | null = null;
  private lastKey: { key: string; at: number } | null = null;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly cleanups: Array<() => void> = [];
  /** Big notebooks make code editors near the viewport only (see lazy-editors.ts). */
  readonly editors = new EditorScheduler();
  lazyEditors = false;

  constructor(
    readonly session: Session,
    container: HTMLElement,
    retry: () => void,
  ) {
    this.ctx = renderContext(session);
    this.root = el("div", { class: "amphi notebook-view" });
    const title = el("h1", { class: "title" }, basename(session.path) || "notebook");
    title.title = session.path;
    this.savedLabel = el("span", { class: "saved-state", role: "status" });
    this.saveButton = button("save", "Save", () => void this.save(), { title: "Save (Ctrl/Cmd-S)" });
    const actions = el(
      "div",
      { class: "toolbar-actions", role: "toolbar", "aria-label": "Notebook" },
      button("runAll", "Run all", () => session.runAll(), { className: "primary" }),
      button("stop", "Interrupt", () => session.interrupt(), { title: "Interrupt the running cell" }),
      button("restart", "Restart", () => this.restart(), { title: "Restart the kernel" }),
      this.saveButton,
    );
    const header = el(
      "header",
      { class: "toolbar" },
      el("div", { class: "toolbar-title" }, title, this.savedLabel),
      actions,
      kernelIndicator(session),
    );
    this.list = el("main", { class: "cells", "aria-label": "Cells" });
    const adders = el(
      "div",
      { class: "add-cells" },
      button("code", "Code cell", () => this.add(null, 1, "code", true), { title: "Add a code cell at the end" }),
      button("text", "Markdown cell", () => this.add(null, 1, "markdown", true), { title: "Add a markdown cell at the end" }),
    );
    const hint = el(
      "p",
      { class: "key-hint" },
      "Shift-Enter runs a cell · Esc then ↑/↓ moves between cells · A/B add above/below · D D deletes · Ctrl/Cmd-S saves",
    );
    this.root.append(
      header,
      bootProgress(session),
      connectionBanner(session, retry),
      diskBanner(session, () => void this.save(true)),
      this.list,
      adders,
      hint,
      toasts(session),
    );
    container.replaceChildren(this.root);

    this.cleanups.push(
      session.on("structure", () => this.reconcile()),
      session.on("status", (id) => this.views.get(id)?.updateStatus()),
      session.on("output", ({ cellId, item }) => this.views.get(cellId)?.outputs.append(item)),
      session.on("update", ({ cellId, message }) => this.views.get(cellId)?.outputs.update(message)),
      session.on("clear", (id) => {
        const cell = session.cell(id);
        this.views.get(id)?.outputs.clear(cell?.status === "running");
      }),
      session.on("source", (id) => this.views.get(id)?.sourceChanged()),
      session.on("input", (id) => this.views.get(id)?.updateInput()),
      session.on("dirty", () => this.updateSaved()),
      session.on("download", ({ filename, content }) => downloadText(filename, content)),
      session.on("reveal", ({ cellId, line }) => {
        const view = this.views.get(cellId);
        if (!view) return;
        view.el.scrollIntoView({ block: "center" });
        view.reveal(line);
      }),
    );
    this.timer = setInterval(() => {
      // Only running cells tick (a big notebook has ~1,000 views and one or two running).
      for (const cell of this.session.cells) if (cell.status === "running") this.views.get(cell.id)?.tick();
    }, 100);
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
        event.preventDefault();
        void this.save();
      }
    };
    const onBeforeUnload = (event: BeforeUnloadEvent) => {
      if (!session.dirty) return;
      event.preventDefault();
      event.returnValue = "";
    };
    document.addEventListener("keydown", onKey);
    window.addEventListener("beforeunload", onBeforeUnload);
    this.cleanups.push(
      () => document.removeEventListener("keydown", onKey),
      () => window.removeEventListener("beforeunload", onBeforeUnload),
    );
    this.reconcile();
    this.updateSaved();
  }

  destroy(): void {
    clearInterval(this.timer);
    this.editors.dispose();
    for (const cleanup of this.cleanups) cleanup();
    for (const view of this.views.values()) view.destroy();
    this.views.clear();
    this.root.remove();
  }

  /** Make the DOM match the session's cell list (create, remove, reorder). */
  private reconcile(): void {
    const cells = this.session.cells;
    if (cells.length > EAGER_LIMIT && !this.lazyEditors) {
      this.lazyEditors = true;
      this.list.classList.add("big");
      this.editors.followContentVisibility(this.list);
    }
    const keep = new Set(cells.map((c) => c.id));
    for (const [id, view] of this.views) {
      if (!keep.has(id)) {
        view.destroy();
        this.views.delete(id);
      }
    }
    // A first load (an empty list): every cell shell is built off-document and inserted at
    // once, one mutation of the page instead of one per cell.
    const batch = this.list.firstElementChild === null ? document.createDocumentFragment() : null;
    let group: HTMLElement | null = null;
    let previous: Element | null = null;
    cells.forEach((cell, index) => {
      let view = this.views.get(cell.id);
      if (!view) {
        view = new CellView(cell, this, this.ctx);
        this.views.set(cell.id, view);
      } else {
        view.kindChanged();
      }
      view.updateName(index);
      if (batch) {
        if (!group || group.childElementCount >= GROUP_SIZE) {
          group = cellGroup();
          batch.appendChild(group);
        }
        group.appendChild(view.el);
        return;
      }
      this.place(view.el, previous);
      previous = view.el;
    });
    if (batch) this.list.appendChild(batch);
    else this.rebalance();
    if (!this.activeId || !keep.has(this.activeId)) this.setActive(cells[0]?.id ?? null, false);
    else this.setActive(this.activeId, false);
  }

  /** Put a cell right after `previous` (the first cell: at the start of the first group),
   * leaving it where it is if it is there already (also as the first cell of the next group). */
  private place(cell: HTMLElement, previous: Element | null): void {
    let group: Element | null;
    let at: Element | null;
    if (previous) {
      group = previous.parentElement;
      at = previous.nextElementSibling;
      if (at === null && cell === group?.nextElementSibling?.firstElementChild) return;
    } else {
      group = this.list.firstElementChild;
      if (!group) {
        group = cellGroup();
        this.list.appendChild(group);
      }
      at = group.firstElementChild;
    }
    if (at === cell || !group) return;
    group.insertBefore(cell, at);
    this.editors.placed(cell);
  }

  /** Remove empty groups and split those grown past GROUP_MAX cells into groups of about
   * GROUP_SIZE (the cells keep their order). */
  private rebalance(): void {
    for (const group of [...this.list.children]) {
      const count = group.childElementCount;
      if (count === 0) {
        group.remove();
      } else if (count > GROUP_MAX) {
        const rest = group.nextElementSibling;
        const parts = Math.ceil(count / GROUP_SIZE);
        const size = Math.ceil(count / parts);
        const moved = [...group.children].slice(size);
        for (let i = 0; i < moved.length; i += size) {
          const part = cellGroup();
          part.append(...moved.slice(i, i + size));
          this.list.insertBefore(part, rest);
          for (const cell of part.children) this.editors.placed(cell);
        }
      }
    }
  }

  private updateSaved(): void {
    const dirty = this.session.dirty;
    this.savedLabel.textContent = dirty ? "Unsaved changes" : "Saved";
    this.savedLabel.dataset.dirty = String(dirty);
    this.saveButton.classList.toggle("attention", dirty);
    document.title = `${dirty ? "● " : ""}${basename(this.session.path) || "notebook"} — amphikernel`;
  }

  async save(overwrite = false): Promise<void> {
    this.savedLabel.textContent = "Saving…";
    try {
      await this.session.save(overwrite);
    } catch {
      // the session shows a toast
    }
    this.updateSaved();
  }

  private restart(): void {
    this.session.restart();
  }

  // ----------------------------------------------------------- cell actions
  setActive(id: string | null, focus: boolean): void {
    // Only the cells whose state changes are touched (a big notebook has ~1,000 views).
    const previous = this.activeId === id ? undefined : this.activeId && this.views.get(this.activeId);
    if (previous) {
      previous.el.classList.remove("active");
      previous.el.tabIndex = -1;
    }
    this.activeId = id;
    const view = id === null ? undefined : this.views.get(id);
    if (view) {
      view.el.classList.add("active");
      view.el.tabIndex = 0;
    }
    if (focus && view) {
      view.el.focus();
      view.el.scrollIntoView({ block: "nearest" });
    }
  }

  private neighbour(id: string, delta: number): string | null {
    const i = this.session.index(id);
    return this.session.cells[i + delta]?.id ?? null;
  }

  runCell(id: string, advance: boolean): void {
    const cell = this.session.cell(id);
    if (!cell) return;
    if (cell.kind === "markdown") this.views.get(id)?.finishEditing();
    else this.session.run([id]);
    if (!advance) return;
    const next = this.neighbour(id, 1);
    if (next) {
      const view = this.views.get(next);
      this.setActive(next, false);
      if (view && this.session.cell(next)?.kind === "code") view.startEditing();
      else this.setActive(next, true);
    } else {
      this.add(id, 1, "code", true);
    }
  }

  add(relativeTo: string | null, where: 0 | 1, kind: "code" | "markdown", edit: boolean): void {
    const at = relativeTo === null ? this.session.cells.length : this.session.index(relativeTo) + where;
    const cell = this.session.addCell(at, kind);
    this.setActive(cell.id, !edit);
    if (edit) this.views.get(cell.id)?.startEditing();
  }

  remove(id: string): void {
    const next = this.neighbour(id, 1) ?? this.neighbour(id, -1);
    this.session.deleteCell(id);
    if (next) this.setActive(next, true);
  }

  move(id: string, delta: number): void {
    this.session.moveCell(id, delta);
    this.setActive(id, true);
  }

  toggleKind(id: string): void {
    const cell = this.session.cell(id);
    if (cell) this.session.setKind(id, cell.kind === "code" ? "markdown" : "code");
  }

  /** Command-mode keys on a focused cell (not while typing in its editor or an output). */
  commandKey(event: KeyboardEvent, id: string): void {
    const view = this.views.get(id);
    if (!view || event.target !== view.el) return;
    const key = event.key;
    const now = performance.now();
    const twice = this.lastKey?.key === key && now - this.lastKey.at < 800;
    this.lastKey = { key, at: now };
    const handled = () => {
      event.preventDefault();
      event.stopPropagation();
    };
    if (key === "Enter" && event.shiftKey) {
      handled();
      this.runCell(id, true);
    } else if (key === "Enter" && (event.ctrlKey || event.metaKey)) {
      handled();
      this.runCell(id, false);
    } else if (key === "Enter") {
      handled();
      view.startEditing();
    } else if (event.altKey && (key === "ArrowUp" || key === "ArrowDown")) {
      handled();
      this.move(id, key === "ArrowUp" ? -1 : 1);
    } else if (key === "ArrowUp" || key === "k") {
      handled();
      const prev = this.neighbour(id, -1);
      if (prev) this.setActive(prev, true);
    } else if (key === "ArrowDown" || key === "j") {
      handled();
      const next = this.neighbour(id, 1);
      if (next) this.setActive(next, true);
    } else if (key === "a" || key === "b") {
      handled();
      this.add(id, key === "a" ? 0 : 1, "code", false);
    } else if (key === "d") {
      handled();
      if (twice) {
        this.lastKey = null;
        this.remove(id);
      }
    } else if (key === "i") {
      handled();
      if (twice) {
        this.lastKey = null;
        this.session.interrupt();
      }
    } else if (key === "m") {
      handled();
      this.session.setKind(id, "markdown");
      this.setActive(id, true);
    } else if (key === "y") {
      handled();
      this.session.setKind(id, "code");
      this.setActive(id, true);
    }
  }
}
