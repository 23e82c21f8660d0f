// Documentation islands: marked code blocks on an ordinary page become live cells of ONE kernel
// (one Web Worker), run in reading order with script semantics.  Each block shows its outputs
// under it, rendered by the same renderers as the app view; UI elements in one block drive the
// cells of other blocks through the kernel's dataflow graph.
//
// Markup (see web/README.md, "Islands"):
//
//   <div class="amphi-island" data-amphi-cell="ID">            ID optional (default island-N)
//     <div class="amphi-code"><pre><code>SOURCE</code></pre></div>   highlighted or not
//     <div class="amphi-output">pre-rendered outputs…</div>         optional
//   </div>
//
// The source is the text content of the first <pre> inside .amphi-code (or of the island).
// `data-amphi-autorun="false"` (or "true") on an island overrides the page's autorun setting.
// Pre-rendered outputs stay until the first output of the cell's first run arrives (or the run
// ends with no output), so a page with pre-rendered outputs does not flash while Python boots.
//
// Virtual files (`@file/...` images, downloads, widget modules): a documentation page has no
// service worker to serve them, so the page asks the kernel to push each file's bytes as it
// is created and shows them through `blob:` URLs substituted into the outputs, revoked when
// the kernel releases the file (../transport/blob-files.ts, pyodide_host/file_push.py).
import type { CellConsole, CellError, CellOutput, Notification } from "../protocol.generated";
import { highlightPython } from "../render/markdown";
import type { RenderContext } from "../render/output";
import type { OutputItem } from "../session";
import { BlobFiles } from "../transport/blob-files";
import type { Incoming, Transport, TransportStatus } from "../transport/transport";
import { UIStore } from "../ui/store";
import { OutputArea } from "../views/outputs";
import { Widgets } from "../widgets/widgets";

export const ISLAND_SELECTOR = ".amphi-island";

type IslandStatus = "waiting" | "queued" | "running" | "idle" | "error" | "not-run" | "stale" | "disabled";

const STATUS_TEXT: Record<IslandStatus, string> = {
  waiting: "Waiting for Python…",
  queued: "Queued",
  running: "Running…",
  idle: "Ran",
  error: "Error",
  "not-run": "Not run: an island above failed",
  stale: "Stale",
  disabled: "Disabled",
};

function h<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The code of an island: the text of its first <pre> (inside .amphi-code when present). */
export function islandSource(island: Element): string {
  const holder = island.querySelector(".amphi-code") ?? island;
  const pre = holder.querySelector("pre") ?? holder;
  const text = pre.textContent ?? "";
  return text.endsWith("\n") ? text.slice(0, -1) : text;
}

/** One marked block on the page. */
export class Island {
  readonly id: string;
  source: string;
  readonly outputHost: HTMLElement;
  readonly outputs: OutputArea;
  private readonly bar: HTMLElement;
  private readonly statusEl: HTMLElement;
  private readonly runButton: HTMLButtonElement;
  private readonly editButton: HTMLButtonElement;
  private editor: HTMLTextAreaElement | null = null;
  /** The code as the page shows it (what the Edit box starts from, and compares against). */
  private shownSource: string;
  private readonly codeHidden: boolean;
  /** Outputs on screen are not this run's yet (pre-rendered, or the previous run's). */
  private replacePending = false;
  private clearPending = false;
  status: IslandStatus = "waiting";
  errored = false;
  /** Run when the page loads: true, false, or null (the page's setting). */
  readonly autorun: boolean | null;

  constructor(
    readonly el: HTMLElement,
    id: string,
    readonly index: number,
    private readonly page: IslandsPage,
    ctx: RenderContext,
  ) {
    this.id = id;
    this.source = islandSource(el);
    this.shownSource = this.source;
    this.codeHidden = this.codeHolder()?.hidden === true;
    const autorun = el.dataset.amphiAutorun?.trim().toLowerCase();
    this.autorun = autorun === undefined ? null : autorun !== "false";
    el.dataset.amphiCell = id;
    el.id ||= `amphi-${id}`;
    let host = el.querySelector<HTMLElement>(":scope > .amphi-output");
    if (!host) {
      host = h("div", "amphi-output");
      el.append(host);
    }
    this.outputHost = host;
    this.outputs = new OutputArea(ctx, { console: true });
    // Pre-rendered outputs (static HTML) stay in place until this cell produces output.
    if (!host.childElementCount && !host.textContent?.trim()) host.append(this.outputs.el);
    this.bar = h("div", "amphi-island-bar");
    this.statusEl = h("span", "amphi-island-status");
    this.statusEl.setAttribute("role", "status");
    this.runButton = h("button", "amphi-island-run", "Run");
    this.runButton.type = "button";
    this.runButton.title = "Run this block (Shift+Enter while editing)";
    this.runButton.disabled = true;
    this.runButton.addEventListener("click", () => this.page.run([this]));
    this.editButton = h("button", "amphi-island-edit", "Edit");
    this.editButton.type = "button";
    this.editButton.title = "Edit this block's code";
    this.editButton.addEventListener("click", () => this.toggleEditor());
    const tools = h("span", "amphi-island-tools");
    if (!el.classList.contains("amphi-no-edit")) tools.append(this.editButton);
    tools.append(this.runButton);
    this.bar.append(this.statusEl, tools);
    host.before(this.bar);
    this.setStatus("waiting");
  }

  get label(): string {
    return `block ${this.index + 1}`;
  }

  setBoot(status: TransportStatus): void {
    if (this.status !== "waiting") return;
    const stage = status.stage ? `${status.stage}${status.progress !== undefined ? ` (${Math.round(status.progress * 100)}%)` : ""}` : "";
    this.statusEl.textContent = status.state === "closed" ? `Python could not start: ${status.error ?? "closed"}` : stage || STATUS_TEXT.waiting;
    this.el.dataset.status = status.state === "closed" ? "failed" : "waiting";
  }

  setReady(ready: boolean): void {
    this.runButton.disabled = !ready;
  }

  setStatus(status: IslandStatus, note?: string): void {
    this.status = status;
    this.el.dataset.status = status;
    this.statusEl.textContent = note ?? STATUS_TEXT[status];
  }

  /** The kernel changed this cell's status. */
  onStatus(status: Notification & { type: "cell-status" }): void {
    switch (status.status) {
      case "queued":
        this.setStatus("queued");
        break;
      case "running":
        this.errored = false;
        this.replacePending = true;
        this.setStatus("running");
        break;
      case "idle":
        if (this.replacePending) this.takeOver(); // the run printed nothing: show nothing
        this.setStatus(this.errored ? "error" : "idle");
        break;
      case "errored-ancestor":
        this.takeOver();
        this.setStatus("not-run");
        break;
      case "stale":
      case "disabled":
        this.setStatus(status.status);
        break;
    }
  }

  /** Replace whatever is shown (pre-rendered or the previous run's outputs) with this run's. */
  private takeOver(): void {
    this.replacePending = false;
    this.clearPending = false;
    this.outputs.clear(false);
    if (this.outputs.el.parentElement !== this.outputHost || this.outputHost.childNodes.length !== 1) {
      this.outputHost.replaceChildren(this.outputs.el);
    }
    this.outputHost.classList.add("amphi-live");
  }

  append(item: OutputItem): void {
    if (this.replacePending || this.outputs.el.parentElement !== this.outputHost) this.takeOver();
    else if (this.clearPending) this.outputs.clear(false);
    this.clearPending = false;
    if (item.kind === "error" && item.message.fatal !== false) {
      this.errored = true;
      this.setStatus("error");
    }
    this.outputs.append(item);
  }

  /** `clear-output`: now, or (`wait`) when the next output arrives. */
  clearOutput(wait: boolean): void {
    if (wait) this.clearPending = true;
    else if (!this.replacePending && this.outputs.el.parentElement === this.outputHost) this.outputs.clear(false);
  }

  /** `update-display`: outputs shown with this display id show the new bundle. */
  updateDisplay(message: CellOutput): void {
    this.outputs.update(message);
  }

  private toggleEditor(): void {
    if (this.editor) {
      this.source = this.editor.value;
      this.editor.remove();
      this.editor = null;
      const holder = this.codeHolder();
      if (this.source !== this.shownSource) {
        // Show the edited code (highlighted like the app's markdown code blocks).
        const pre = holder?.tagName === "PRE" ? holder : holder?.querySelector("pre");
        if (pre) highlightPython(this.source, pre.querySelector("code") ?? pre);
        this.shownSource = this.source;
        this.el.classList.add("amphi-edited");
      }
      if (holder) holder.hidden = this.codeHidden;
      this.editButton.textContent = "Edit";
      return;
    }
    const editor = document.createElement("textarea");
    editor.className = "amphi-island-editor";
    editor.spellcheck = false;
    editor.value = this.source;
    editor.rows = Math.min(30, Math.max(2, this.source.split("\n").length + 1));
    editor.setAttribute("aria-label", `Code of ${this.label}`);
    editor.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.shiftKey || event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.page.run([this]);
      }
    });
    editor.addEventListener("input", () => {
      this.source = editor.value;
    });
    const code = this.codeHolder();
    if (code) {
      code.hidden = true;
      code.after(editor);
    } else {
      this.bar.before(editor);
    }
    this.editor = editor;
    this.editButton.textContent = "Done";
    editor.focus();
  }

  private codeHolder(): HTMLElement | null {
    return this.el.querySelector<HTMLElement>(":scope > .amphi-code") ?? this.el.querySelector("pre");
  }
}

export interface IslandsPageOptions {
  /** Islands in reading order (default: every `.amphi-island` of the document). */
  elements?: HTMLElement[];
  /** Ask the kernel to push virtual files to the page, shown as `blob:` URLs (default true). */
  pushFiles?: boolean;
}

/** Every island of the page, one kernel behind one transport. */
export class IslandsPage {
  readonly islands: Island[] = [];
  readonly ui: UIStore;
  readonly widgets: Widgets;
  kernelReady = false;
  /** Virtual files of the kernel, as `blob:` URLs (pushed by the kernel). */
  readonly files = new BlobFiles();
  private readonly byId = new Map<string, Island>();
  private readonly pushFiles: boolean;

  constructor(
    readonly transport: Transport,
    options: IslandsPageOptions = {},
  ) {
    this.ui = new UIStore((values) => this.transport.send({ type: "update-ui-element", values }));
    const fileUrl = (url: string) => this.files.resolve(url) ?? this.transport.fileUrl(url);
    this.widgets = new Widgets((message) => this.transport.send(message), fileUrl);
    const ctx: RenderContext = {
      ui: this.ui,
      widgets: this.widgets,
      fileUrl,
      cellLabel: (id) => this.byId.get(id)?.label ?? null,
      reveal: (id) => this.byId.get(id)?.el.scrollIntoView({ block: "center" }),
    };
    const elements = options.elements ?? Array.from(document.querySelectorAll<HTMLElement>(ISLAND_SELECTOR));
    const used = new Set<string>();
    elements.forEach((el, index) => {
      let id = (el.dataset.amphiCell ?? "").trim() || `island-${index + 1}`;
      while (used.has(id)) id = `${id}-${index + 1}`;
      used.add(id);
      const island = new Island(el, id, index, this, ctx);
      this.islands.push(island);
      this.byId.set(id, island);
    });
    transport.onNotification((message) => this.receive(message));
    this.pushFiles = options.pushFiles !== false;
    this.askForFiles(); // queued before any run, so the first run's files come too
    transport.onStatus((status) => {
      for (const island of this.islands) island.setBoot(status);
      if (status.state === "closed") this.setReady(false);
    });
  }

  island(id: string): Island | undefined {
    return this.byId.get(id);
  }

  /** Run every island, in reading order (what the page does once at load); `autorun` is the
   * page's default for islands that do not say (`data-amphi-autorun`). */
  runAll(autorun = true): void {
    this.run(this.islands.filter((island) => island.autorun ?? autorun));
  }

  /** `push-virtual-files`: the session then sends each file's bytes as it creates it
   * (idempotent; sent again to every new kernel, e.g. a worker started after a hard restart). */
  private askForFiles(): void {
    if (this.pushFiles) this.transport.send({ type: "push-virtual-files" } as unknown as Parameters<Transport["send"]>[0]);
  }

  /** Run some islands with their current code; the kernel re-runs what depends on them. */
  run(islands: Island[]): void {
    if (!islands.length) return;
    this.transport.send({
      type: "execute-cells",
      cell_ids: islands.map((i) => i.id),
      codes: islands.map((i) => i.source),
      order: this.islands.map((i) => i.id),
    });
  }

  private setReady(ready: boolean): void {
    this.kernelReady = ready;
    for (const island of this.islands) island.setReady(ready);
  }

  private receive(message: Incoming): void {
    if (this.files.receive(message)) return;
    const note = message as Notification;
    switch (note.type) {
      case "kernel-ready":
        this.files.clear(); // a new kernel: the previous one's files are gone
        this.askForFiles();
        this.setReady(true);
        for (const island of this.islands) if (island.status === "waiting") island.setStatus("waiting", "Python is ready");
        return;
      case "kernel-died":
        this.setReady(false);
        for (const island of this.islands) {
          if (island.status === "running" || island.status === "queued" || island.status === "waiting") {
            island.setStatus("error", `Python stopped${note.reason ? `: ${note.reason}` : ""}`);
          }
        }
        return;
      case "cell-status":
        this.byId.get(note.cell_id)?.onStatus(note);
        return;
      case "cell-output":
        this.byId.get(note.cell_id)?.append({ kind: "output", message: { ...note, data: this.files.rewriteBundle(note.data) } as CellOutput });
        return;
      case "cell-console":
        this.byId.get(note.cell_id)?.append({ kind: "console", message: note as CellConsole });
        return;
      case "cell-error":
        this.byId.get(note.cell_id)?.append({ kind: "error", message: note as CellError });
        return;
      case "update-display":
        const data = this.files.rewriteBundle(note.data ?? {});
        for (const island of this.islands) {
          island.updateDisplay({ type: "cell-output", cell_id: island.id, data, metadata: note.metadata ?? {}, display_id: note.display_id });
        }
        return;
      case "clear-output":
        this.byId.get(note.cell_id)?.clearOutput(note.wait ?? false);
        return;
      case "ui-element-value":
        this.ui.fromKernel(note.element_id, note.value);
        return;
      case "widget-model-update":
        this.widgets.receive(note);
        return;
      case "kernel-error":
        console.error(`amphikernel islands: ${note.message}`);
        return;
      default:
        return; // notebook snapshot, variables, completed-run, unknown types
    }
  }
}
