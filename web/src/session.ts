// The page's model of a notebook session: cells, their run state and outputs, the kernel's
// state, saving.  It talks to the kernel only through a Transport and never knows which one.
import { Emitter } from "./emitter";
import type { CellKind, HostCell, HostMessage, NotebookChangedOnDisk, NotebookSnapshot } from "./host-messages";
import type {
  CellConsole,
  CellError,
  CellOutput,
  CompletionResult,
  InputRequest,
  Notification,
} from "./protocol.generated";
import type { Incoming, Transport, TransportStatus } from "./transport/transport";
import { UIStore } from "./ui/store";
import { Widgets } from "./widgets/widgets";

export type CellStatusName = "queued" | "running" | "idle" | "stale" | "errored-ancestor" | "disabled";

export type OutputItem =
  | { kind: "output"; message: CellOutput }
  | { kind: "console"; message: CellConsole }
  | { kind: "error"; message: CellError };

export interface CellState {
  id: string;
  kind: CellKind;
  source: string;
  name: string | null;
  options: Record<string, unknown>;
  /** The source the host's document has for this cell, as far as this tab knows. */
  syncedSource: string | undefined;
  /** The source this cell last ran with in the current kernel (undefined: never ran). */
  ranSource: string | undefined;
  status: CellStatusName | undefined;
  /** performance.now() when it started running (this tab's clock). */
  runStartedAt: number | null;
  /** Duration of the last completed run in seconds (kernel timestamps). */
  lastDuration: number | null;
  kernelStartedAt: number | null;
  outputs: OutputItem[];
  errored: boolean;
  input: InputRequest | null;
  /** The outputs are a preview (pre-rendered, received before the kernel was connected):
   * kept until the cell runs. */
  preview: boolean;
  /** A `clear-output` with `wait` arrived: clear when the next output of the cell arrives. */
  clearPending: boolean;
}

export type KernelState = "connecting" | "reconnecting" | "starting" | "idle" | "busy" | "dead" | "closed";

export interface Toast {
  level: "info" | "error";
  text: string;
}

export type SessionEvents = {
  /** Cell list changed (added, removed, moved, kind changed, snapshot). */
  structure: void;
  /** A cell's status / run timing changed. */
  status: string;
  /** An output item was appended to a cell. */
  output: { cellId: string; item: OutputItem };
  /** Outputs of a cell shown with `message.display_id` now show `message` (update-display). */
  update: { cellId: string; message: CellOutput };
  /** A cell's outputs were cleared (it started running, restart, replay). */
  clear: string;
  /** A cell's source was changed by something other than its editor (another tab, snapshot). */
  source: string;
  /** A cell's pending input() prompt appeared or went away. */
  input: string;
  kernel: KernelState;
  dirty: boolean;
  mode: "edit" | "run";
  toast: Toast;
  /** A traceback link asked to show a cell's line. */
  reveal: { cellId: string; line: number };
  /** The host cannot save (a notebook running in the browser): offer this file instead. */
  download: { filename: string; content: string };
  /** The notebook file was changed on disk by another program (or that was resolved: null). */
  disk: DiskChange | null;
};

/** The notebook file changed on disk under this session (see `notebook-changed-on-disk`). */
export interface DiskChange {
  deleted: boolean;
  /** Why the last reload failed, or why the last save was refused. */
  error: string;
}

const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

export function newCellId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(10));
  return Array.from(bytes, (b) => ID_ALPHABET[b % ID_ALPHABET.length]).join("");
}

function newRequestId(): string {
  return `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

export class Session extends Emitter<SessionEvents> {
  cells: CellState[] = [];
  mode: "edit" | "run" | null = null;
  path = "";
  semantics: "script" | "strict" = "script";
  transportStatus: TransportStatus = { state: "connecting" };
  kernelReady = false;
  kernelDead: { reason: string } | null = null;
  /** Set while the notebook file has changes on disk this tab has not reloaded or overwritten. */
  diskChange: DiskChange | null = null;
  python = "";
  readonly ui: UIStore;
  readonly widgets: Widgets;
  private savedFingerprint: string | null = null;
  private dirtyCache = false;
  private expectSnapshot = true;
  private reloading = false;
  private restarting = false;
  private readonly completions = new Map<string, (result: CompletionResult | null) => void>();
  private readonly saves = new Map<string, (ok: boolean, error: string) => void>();
  /** Cells this tab marked queued before the kernel confirmed: their previous status. */
  private readonly optimistic = new Map<string, CellStatusName | undefined>();

  constructor(readonly transport: Transport) {
    super();
    this.ui = new UIStore((values) => this.transport.send({ type: "update-ui-element", values }));
    this.widgets = new Widgets(
      (message) => this.transport.send(message),
      (url) => this.transport.fileUrl(url),
    );
    transport.onNotification((message) => this.receive(message));
    transport.onStatus((status) => this.onTransportStatus(status));
  }

  // ------------------------------------------------------------------ lookups
  cell(id: string): CellState | undefined {
    return this.cells.find((c) => c.id === id);
  }

  index(id: string): number {
    return this.cells.findIndex((c) => c.id === id);
  }

  get kernelState(): KernelState {
    const t = this.transportStatus.state;
    if (t === "closed") return "closed";
    if (t === "connecting") return "connecting";
    if (t === "reconnecting") return "reconnecting";
    if (this.kernelDead) return "dead";
    if (!this.kernelReady || this.restarting) return "starting";
    return this.cells.some((c) => c.status === "running" || c.status === "queued") ? "busy" : "idle";
  }

  get dirty(): boolean {
    return this.dirtyCache;
  }

  /** How many cells are queued or running. */
  activeCells(): number {
    return this.cells.filter((c) => c.status === "queued" || c.status === "running").length;
  }

  // --------------------------------------------------------------- transport
  private onTransportStatus(status: TransportStatus): void {
    this.transportStatus = status;
    if (status.state === "open") {
      // The host sends its notebook snapshot first, then the session's replayed state.
      this.expectSnapshot = true;
    }
    this.emit("kernel", this.kernelState);
  }

  private receive(message: Incoming): void {
    switch (message.type) {
      case "notebook":
        this.onSnapshot(message as NotebookSnapshot);
        return;
      case "notebook-saved":
      case "kernel-restarted":
        this.onHostMessage(message as HostMessage);
        return;
      case "notebook-changed-on-disk": {
        const change = message as NotebookChangedOnDisk;
        this.reloading = false;
        this.setDiskChange({ deleted: Boolean(change.deleted), error: change.error ?? "" });
        return;
      }
      default:
        this.onNotification(message as Notification);
    }
  }

  private onNotification(note: Notification): void {
    switch (note.type) {
      case "kernel-ready":
        this.kernelReady = true;
        this.kernelDead = null;
        this.restarting = false;
        this.python = note.python ?? "";
        this.emit("kernel", this.kernelState);
        return;
      case "kernel-died":
        this.kernelDead = { reason: note.reason || (note.returncode != null ? `exit status ${note.returncode}` : "") };
        for (const cell of this.cells) {
          if (cell.status === "running" || cell.status === "queued") this.setStatus(cell, "idle", undefined);
          if (cell.input) {
            cell.input = null;
            this.emit("input", cell.id);
          }
        }
        this.emit("kernel", this.kernelState);
        return;
      case "cell-status": {
        const cell = this.cell(note.cell_id);
        this.optimistic.delete(note.cell_id);
        if (cell) this.setStatus(cell, note.status, note.timestamp);
        return;
      }
      case "cell-output":
      case "cell-console":
      case "cell-error": {
        const cell = this.cell(note.cell_id);
        if (!cell) return;
        if (cell.clearPending) this.clearOutputs(cell);
        const item =
          note.type === "cell-output"
            ? ({ kind: "output", message: note } as const)
            : note.type === "cell-console"
              ? ({ kind: "console", message: note } as const)
              : ({ kind: "error", message: note } as const);
        if (item.kind === "error" && item.message.fatal !== false) cell.errored = true;
        if (this.transportStatus.state === "connecting") cell.preview = true;
        cell.outputs.push(item);
        this.emit("output", { cellId: cell.id, item });
        if (item.kind === "error") this.emit("status", cell.id);
        return;
      }
      case "update-display":
        this.updateDisplay(note.display_id, note.data ?? {}, note.metadata ?? {});
        return;
      case "clear-output": {
        const cell = this.cell(note.cell_id);
        if (!cell) return;
        if (note.wait) cell.clearPending = true;
        else this.clearOutputs(cell);
        return;
      }
      case "completed-run":
        this.emit("kernel", this.kernelState);
        return;
      case "ui-element-value":
        this.ui.fromKernel(note.element_id, note.value);
        return;
      case "widget-model-update":
        this.widgets.receive(note);
        return;
      case "input-request": {
        const cell = this.cell(note.cell_id ?? "");
        if (!cell) return;
        cell.input = note;
        this.emit("input", cell.id);
        return;
      }
      case "completion-result": {
        const resolve = this.completions.get(note.request_id);
        if (resolve) {
          this.completions.delete(note.request_id);
          resolve(note);
        }
        return;
      }
      case "kernel-error":
        if (note.command_type === "execute-cells") this.undoOptimistic();
        this.emit("toast", { level: "error", text: note.message });
        return;
      case "packages-installed": {
        const failed = Object.entries(note.failed ?? {});
        if (note.installed?.length) this.emit("toast", { level: "info", text: `installed ${note.installed.join(", ")}` });
        for (const [name, why] of failed) this.emit("toast", { level: "error", text: `could not install ${name}: ${why}` });
        return;
      }
      default:
        return; // variables, virtual-file, kernel-stopped and unknown types: nothing to show
    }
  }

  private setStatus(cell: CellState, status: CellStatusName, timestamp: number | undefined): void {
    const previous = cell.status;
    cell.status = status;
    if (cell.ranSource === undefined && status === "idle") cell.ranSource = cell.syncedSource;
    if (status === "running") {
      cell.runStartedAt = performance.now();
      cell.kernelStartedAt = timestamp ?? null;
      cell.errored = false;
      cell.ranSource = cell.syncedSource ?? cell.ranSource;
      this.clearOutputs(cell);
    } else if (status === "errored-ancestor") {
      cell.errored = false;
      this.clearOutputs(cell);
    }
    if (previous === "running" && status !== "running") {
      cell.lastDuration =
        timestamp && cell.kernelStartedAt ? Math.max(0, timestamp - cell.kernelStartedAt) : null;
      cell.runStartedAt = null;
      if (cell.input) {
        cell.input = null;
        this.emit("input", cell.id);
      }
    }
    this.emit("status", cell.id);
    if (previous !== status) this.emit("kernel", this.kernelState);
  }

  /** A run was refused: cells this tab showed as queued go back to what they were. */
  private undoOptimistic(): void {
    for (const [id, previous] of this.optimistic) {
      const cell = this.cell(id);
      if (cell && cell.status === "queued") {
        cell.status = previous;
        this.emit("status", id);
      }
    }
    this.optimistic.clear();
    this.emit("kernel", this.kernelState);
  }

  /** Every output shown with `displayId`, in any cell, now shows this bundle. */
  private updateDisplay(displayId: string, data: Record<string, unknown>, metadata: Record<string, unknown>): void {
    for (const cell of this.cells) {
      let updated: CellOutput | null = null;
      cell.outputs = cell.outputs.map((item) => {
        if (item.kind !== "output" || item.message.display_id !== displayId) return item;
        updated = { ...item.message, data, metadata };
        return { kind: "output", message: updated };
      });
      if (updated) this.emit("update", { cellId: cell.id, message: updated });
    }
  }

  private clearOutputs(cell: CellState): void {
    cell.preview = false;
    cell.clearPending = false;
    if (cell.outputs.length === 0 && !cell.errored) return;
    cell.outputs = [];
    this.emit("clear", cell.id);
  }

  private onHostMessage(message: HostMessage): void {
    if (message.type === "notebook-saved") {
      const resolve = this.saves.get(message.request_id ?? "");
      if (resolve) {
        this.saves.delete(message.request_id ?? "");
        if (!message.ok && message.conflict) this.setDiskChange({ deleted: false, error: message.error ?? "" });
        if (!message.ok && typeof message.content === "string" && message.content) {
          // A host without a file (the browser): the page downloads the notebook instead.
          this.emit("download", { filename: message.filename || "notebook.py", content: message.content });
          this.emit("toast", {
            level: "info",
            text: `This notebook runs in your browser and cannot be saved here: downloaded ${message.filename || "notebook.py"} instead.`,
          });
          resolve(false, "");
          return;
        }
        resolve(message.ok, message.error ?? "");
      }
      return;
    }
    if (message.type === "kernel-restarted") {
      this.restarting = false;
      this.resetKernelState();
      if (!message.ok) this.emit("toast", { level: "error", text: `restart failed: ${message.error ?? ""}` });
      this.emit("kernel", this.kernelState);
    }
  }

  /** Forget everything the kernel produced (restart, resynchronisation); `keepPreview`: keep
   * pre-rendered outputs (the first connection to a kernel that has not run them yet). */
  private resetKernelState(keepPreview = false): void {
    this.optimistic.clear();
    for (const cell of this.cells) {
      cell.status = undefined;
      cell.runStartedAt = null;
      cell.ranSource = undefined;
      cell.input = null;
      if (keepPreview && cell.preview) {
        this.emit("status", cell.id);
        continue;
      }
      cell.errored = false;
      cell.preview = false;
      cell.clearPending = false;
      if (cell.outputs.length) cell.outputs = [];
      this.emit("clear", cell.id);
      this.emit("status", cell.id);
      this.emit("input", cell.id);
    }
    this.ui.reset();
    this.widgets.reset();
  }

  private setDiskChange(change: DiskChange | null): void {
    this.diskChange = change;
    this.emit("disk", change);
  }

  /** Replace this tab's cells (its unsaved edits too) with the notebook file on disk. */
  reloadFromDisk(): void {
    this.reloading = true;
    this.transport.send({ type: "reload-notebook", request_id: newRequestId() });
  }

  private onSnapshot(snapshot: NotebookSnapshot): void {
    const resync = this.expectSnapshot;
    this.expectSnapshot = false;
    if (this.reloading) {
      // The answer to reload-notebook: the file's cells replace this tab's, edits included.
      this.reloading = false;
      this.cells = [];
      this.setDiskChange(null);
    }
    if (resync) {
      // A (re)connection: the replay that follows rebuilds every output and status.
      this.kernelReady = false;
      this.kernelDead = null;
      this.resetKernelState(true);
    }
    this.path = snapshot.path;
    this.semantics = snapshot.semantics ?? "script";
    this.mergeCells(snapshot.cells);
    if (snapshot.saved) this.savedFingerprint = fingerprint(snapshot.cells);
    else if (resync) this.savedFingerprint = null;
    if (this.mode !== snapshot.mode) {
      this.mode = snapshot.mode;
      this.emit("mode", snapshot.mode);
    }
    this.emit("structure", undefined);
    this.updateDirty();
    this.emit("kernel", this.kernelState);
  }

  /**
   * Take the host's cell list, keeping what this tab changed and the host has not seen:
   * cells edited here keep their text, cells created here and never sent stay where they are.
   */
  private mergeCells(hostCells: HostCell[]): void {
    const local = new Map(this.cells.map((c) => [c.id, c]));
    const hostIds = new Set(hostCells.map((c) => c.id));
    const merged: CellState[] = hostCells.map((hc) => {
      const source = hc.source ?? "";
      const mine = local.get(hc.id);
      if (!mine) return newCellState(hc, source);
      const editedHere = mine.syncedSource === undefined ? mine.source !== source : mine.source !== mine.syncedSource;
      if (!editedHere && mine.source !== source) {
        mine.source = source;
        this.emit("source", mine.id);
      }
      mine.syncedSource = source;
      mine.kind = hc.kind ?? mine.kind;
      mine.name = hc.name ?? null;
      mine.options = hc.options ?? {};
      return mine;
    });
    // Cells only this tab has: keep those the host never knew, and those edited here.
    this.cells.forEach((cell, i) => {
      if (hostIds.has(cell.id)) return;
      const neverSent = cell.syncedSource === undefined;
      if (!neverSent && cell.source === cell.syncedSource) return; // deleted elsewhere
      const before = this.cells.slice(0, i).reverse().find((c) => merged.includes(c));
      const at = before ? merged.indexOf(before) + 1 : 0;
      merged.splice(at, 0, cell);
    });
    this.cells = merged;
  }

  // ------------------------------------------------------------------ dirty
  private updateDirty(): void {
    const dirty = this.savedFingerprint === null || this.savedFingerprint !== fingerprint(this.hostCells());
    if (dirty !== this.dirtyCache) {
      this.dirtyCache = dirty;
      this.emit("dirty", dirty);
    }
  }

  private dirtyTimer: ReturnType<typeof setTimeout> | null = null;

  /** Recompute the saved/unsaved state soon (after typing). */
  private scheduleDirty(): void {
    if (!this.dirtyCache) {
      // Becoming dirty is cheap to detect and must show at once.
      this.updateDirty();
      return;
    }
    if (this.dirtyTimer) clearTimeout(this.dirtyTimer);
    this.dirtyTimer = setTimeout(() => this.updateDirty(), 150);
  }

  hostCells(): HostCell[] {
    return this.cells.map((c) => {
      const cell: HostCell = { id: c.id, kind: c.kind, source: c.source, options: c.options };
      if (c.name !== null) cell.name = c.name;
      return cell;
    });
  }

  // ---------------------------------------------------------------- editing
  setSource(id: string, source: string): void {
    const cell = this.cell(id);
    if (!cell || cell.source === source) return;
    cell.source = source;
    this.emit("status", id); // "edited since it ran" marker
    this.scheduleDirty();
  }

  addCell(at: number, kind: CellKind = "code", source = ""): CellState {
    const cell = newCellState({ id: newCellId(), kind }, source);
    cell.syncedSource = undefined;
    this.cells.splice(Math.max(0, Math.min(at, this.cells.length)), 0, cell);
    this.emit("structure", undefined);
    this.updateDirty();
    return cell;
  }

  deleteCell(id: string): void {
    const at = this.index(id);
    if (at < 0) return;
    const [cell] = this.cells.splice(at, 1);
    if (cell.kind === "code" && (cell.syncedSource !== undefined || cell.status !== undefined)) {
      this.transport.send({ type: "delete-cells", cell_ids: [id] });
    }
    this.emit("structure", undefined);
    this.updateDirty();
  }

  moveCell(id: string, delta: number): void {
    const at = this.index(id);
    const to = at + delta;
    if (at < 0 || to < 0 || to >= this.cells.length) return;
    const [cell] = this.cells.splice(at, 1);
    this.cells.splice(to, 0, cell);
    this.emit("structure", undefined);
    // The order matters to script semantics: tell the kernel (cells whose inputs change re-run).
    if (this.cells.some((c) => c.kind === "code" && c.status !== undefined)) {
      this.transport.send({ type: "execute-cells", cell_ids: [], codes: [], order: this.cells.map((c) => c.id) });
    }
    this.updateDirty();
  }

  setKind(id: string, kind: CellKind): void {
    const cell = this.cell(id);
    if (!cell || cell.kind === kind) return;
    if (cell.kind === "code" && cell.status !== undefined) {
      this.transport.send({ type: "delete-cells", cell_ids: [id] });
      cell.status = undefined;
      cell.outputs = [];
      cell.ranSource = undefined;
      this.emit("clear", id);
    }
    cell.kind = kind;
    this.emit("structure", undefined);
    this.updateDirty();
  }

  // ---------------------------------------------------------------- running
  /** Run code cells (and, through the kernel, everything downstream of them). */
  run(ids: string[]): void {
    const cells = ids.map((id) => this.cell(id)).filter((c): c is CellState => !!c && c.kind === "code");
    if (!cells.length) return;
    for (const cell of cells) {
      cell.syncedSource = cell.source;
      if (cell.status !== "running" && cell.status !== "queued") {
        this.optimistic.set(cell.id, cell.status);
        cell.status = "queued";
        this.emit("status", cell.id);
      }
    }
    this.transport.send({
      type: "execute-cells",
      cell_ids: cells.map((c) => c.id),
      codes: cells.map((c) => c.source),
      order: this.cells.map((c) => c.id),
    });
    this.emit("kernel", this.kernelState);
    this.updateDirty();
  }

  runAll(): void {
    this.run(this.cells.filter((c) => c.kind === "code").map((c) => c.id));
  }

  interrupt(): void {
    this.transport.send({ type: "interrupt" });
  }

  restart(): void {
    this.restarting = true;
    this.kernelReady = false;
    this.transport.send({ type: "restart-kernel", request_id: newRequestId() });
    this.emit("kernel", this.kernelState);
  }

  replyInput(cellId: string, text: string): void {
    const cell = this.cell(cellId);
    if (!cell?.input) return;
    this.transport.send({ type: "input-reply", request_id: cell.input.request_id, text });
    cell.input = null;
    this.emit("input", cellId);
  }

  complete(code: string, cursor: number, cellId: string, timeoutMs = 15000): Promise<CompletionResult | null> {
    const request_id = newRequestId();
    return new Promise((resolve) => {
      this.completions.set(request_id, resolve);
      setTimeout(() => {
        if (this.completions.delete(request_id)) resolve(null);
      }, timeoutMs);
      this.transport.send({ type: "complete", request_id, code, cursor, cell_id: cellId });
    });
  }

  /** Save the cells; `overwrite` writes over changes another program made on disk. */
  save(overwrite = false): Promise<void> {
    const request_id = newRequestId();
    const cells = this.hostCells();
    return new Promise((resolve, reject) => {
      this.saves.set(request_id, (ok, error) => {
        if (ok) {
          this.savedFingerprint = fingerprint(cells);
          for (const cell of this.cells) {
            const saved = cells.find((c) => c.id === cell.id);
            if (saved) cell.syncedSource = saved.source;
          }
          this.updateDirty();
          if (this.diskChange) this.setDiskChange(null);
          resolve();
        } else {
          // An empty error: the host offered a download instead (and said so).
          if (error) this.emit("toast", { level: "error", text: `save failed: ${error}` });
          reject(new Error(error || "downloaded instead of saved"));
        }
      });
      this.transport.send(overwrite ? { type: "save-notebook", cells, request_id, overwrite } : { type: "save-notebook", cells, request_id });
    });
  }

  reveal(cellId: string, line: number): void {
    this.emit("reveal", { cellId, line });
  }
}

function newCellState(hc: HostCell, source: string): CellState {
  return {
    id: hc.id,
    kind: hc.kind ?? "code",
    source,
    name: hc.name ?? null,
    options: hc.options ?? {},
    syncedSource: source,
    ranSource: undefined,
    status: undefined,
    runStartedAt: null,
    lastDuration: null,
    kernelStartedAt: null,
    outputs: [],
    errored: false,
    input: null,
    preview: false,
    clearPending: false,
  };
}

function fingerprint(cells: HostCell[]): string {
  return JSON.stringify(cells.map((c) => [c.id, c.kind ?? "code", c.source ?? "", c.name ?? null]));
}
