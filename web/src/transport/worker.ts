// Worker transport: the kernel runs in a Web Worker (Pyodide).  See worker-contract.ts for the
// postMessage contract.
//
// Besides moving frames, the page side does what only it can do while the worker's one
// thread is busy running a cell:
// * interrupt: write SIGINT into the shared interrupt buffer (cross-origin isolated pages);
//   without isolation, explain why interrupt is unavailable (a local `kernel-error`);
// * `input()`: answer through the shared stdin buffer (isolated pages) instead of a frame;
// * restart: if the worker does not answer `restart-kernel` in time (a cell that never
//   yields), terminate it and start a fresh one;
// * virtual files: answer the service worker's `@file/` requests by asking the worker.
import { addFileSource } from "./files";
import { StdinWriter, createStdinBuffer } from "./stdin-channel";
import {
  decodeFrame,
  encodeFrame,
  type Incoming,
  Listeners,
  type Outgoing,
  type Transport,
  type TransportStatus,
} from "./transport";
import {
  type FileReply,
  type PageToWorker,
  SIGINT,
  type WorkerInitOptions,
  type WorkerToPage,
} from "./worker-contract";

export interface WorkerTransportOptions {
  /** The worker, or a function creating it (called by connect(), and again by a hard restart). */
  worker: Worker | (() => Worker);
  /** Passed to the worker in the `init` message. */
  init?: WorkerInitOptions;
  /** Base URL for `@file/` virtual files (default: the page's URL). */
  fileBase?: string;
  /** How long a `restart-kernel` may go unanswered before the worker is replaced (ms, default 5000). */
  restartGraceMs?: number;
}

export const NO_INTERRUPT_MESSAGE =
  "Interrupt is not available on this page: the kernel runs in a Web Worker and can only be " +
  "interrupted when the page is cross-origin isolated (served with the headers " +
  "'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp', " +
  "or with the site's service worker enabled). Restart the kernel to stop a running cell.";

/** A frame that owns its whole ArrayBuffer, so it can be transferred. */
function ownedFrame(frame: Uint8Array): Uint8Array {
  if (frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength && frame.buffer instanceof ArrayBuffer) {
    return frame;
  }
  return frame.slice();
}

export class WorkerTransport implements Transport {
  private worker: Worker | null = null;
  private readonly messages = new Listeners<Incoming>();
  private readonly statuses = new Listeners<TransportStatus>();
  private queue: Uint8Array[] = [];
  private ready = false;
  private interruptBuffer: Int32Array | null = null;
  private stdin: StdinWriter | null = null;
  private readonly pendingInputs = new Set<string>();
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private restartRequest = "";
  private respawning = false;
  private stopFiles: (() => void) | null = null;
  status: TransportStatus = { state: "connecting" };

  constructor(private readonly options: WorkerTransportOptions) {}

  private setStatus(status: TransportStatus): void {
    this.status = status;
    this.statuses.emit(status);
  }

  /** Whether `interrupt` and `input()` work (the page is cross-origin isolated). */
  get isolated(): boolean {
    return this.interruptBuffer !== null;
  }

  connect(): Promise<void> {
    if (typeof SharedArrayBuffer !== "undefined" && globalThis.crossOriginIsolated) {
      this.interruptBuffer = new Int32Array(new SharedArrayBuffer(4));
      this.stdin = new StdinWriter(createStdinBuffer());
    }
    if (!this.stopFiles) this.stopFiles = addFileSource((url) => this.readFile(url));
    return this.start(this.options.init ?? {});
  }

  private start(init: WorkerInitOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      const make = this.options.worker;
      const worker = typeof make === "function" ? make() : make;
      this.worker = worker;
      this.ready = false;
      this.setStatus({ state: "connecting", stage: "Starting the worker" });
      worker.onmessage = (event: MessageEvent<WorkerToPage>) => {
        if (this.worker !== worker) return;
        const message = event.data;
        switch (message.kind) {
          case "progress":
            this.setStatus({ state: "connecting", stage: message.stage, progress: message.progress });
            break;
          case "ready": {
            this.ready = true;
            this.setStatus({ state: "open", resumed: false });
            if (this.respawning) {
              this.respawning = false;
              this.messages.emit({ type: "kernel-restarted", ok: true, error: "", request_id: this.restartRequest });
            }
            const pending = this.queue;
            this.queue = [];
            for (const frame of pending) this.post({ kind: "frame", data: frame });
            resolve();
            break;
          }
          case "frame": {
            const decoded = decodeFrame(message.data);
            if (decoded) this.receive(decoded);
            break;
          }
          case "error":
            this.setStatus({ state: "closed", error: message.message });
            reject(new Error(message.message));
            break;
        }
      };
      worker.onerror = (event: ErrorEvent) => {
        if (this.worker !== worker) return;
        const error = event.message || "the worker failed to start";
        this.setStatus({ state: "closed", error });
        reject(new Error(error));
      };
      if (this.interruptBuffer) Atomics.store(this.interruptBuffer, 0, 0);
      this.stdin?.reset();
      this.post({ kind: "init", options: init, interruptBuffer: this.interruptBuffer, stdinBuffer: this.stdin?.buffer ?? null });
    });
  }

  private receive(message: Incoming): void {
    switch (message.type) {
      case "input-request":
        this.pendingInputs.add(String((message as { request_id?: unknown }).request_id ?? ""));
        break;
      case "completed-run":
        this.pendingInputs.clear();
        break;
      case "kernel-restarted":
        if (this.restartTimer) clearTimeout(this.restartTimer);
        this.restartTimer = null;
        break;
    }
    this.messages.emit(message);
  }

  private post(message: PageToWorker, transfer: Transferable[] = []): void {
    if (!this.worker) return;
    if (message.kind === "frame") this.worker.postMessage(message, [message.data.buffer as ArrayBuffer]);
    else this.worker.postMessage(message, transfer);
  }

  send(message: Outgoing): void {
    if (message.type === "interrupt") this.interrupt();
    if (message.type === "input-reply" && this.stdin) {
      this.answerInput(message.request_id, message.text ?? "");
      return;
    }
    if (message.type === "restart-kernel") this.watchRestart(message.request_id ?? "");
    const frame = ownedFrame(encodeFrame(message));
    if (this.ready) this.post({ kind: "frame", data: frame });
    else this.queue.push(frame);
  }

  private interrupt(): void {
    if (!this.interruptBuffer) {
      this.messages.emit({ type: "kernel-error", message: NO_INTERRUPT_MESSAGE, command_type: "interrupt", detail: "" });
      return;
    }
    Atomics.store(this.interruptBuffer, 0, SIGINT);
    Atomics.notify(this.interruptBuffer, 0); // wakes a time.sleep() (see the worker)
    if (this.pendingInputs.size && this.stdin) {
      this.stdin.interrupt();
      this.pendingInputs.clear();
    }
  }

  /** Send a reply in chunks (a reply over the limit makes the cell's input() raise). */
  private answerInput(requestId: string, text: string): void {
    if (!this.stdin || !this.pendingInputs.delete(requestId)) return;
    this.stdin.send(text).catch((error: unknown) => console.warn("amphikernel: input() reply refused:", String(error)));
  }

  /** A restart the worker cannot answer (its thread is stuck in a cell): replace the worker. */
  private watchRestart(requestId: string): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartRequest = requestId;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.respawn();
    }, this.options.restartGraceMs ?? 5000);
  }

  private respawn(): void {
    this.worker?.terminate();
    this.worker = null;
    this.queue = [];
    this.pendingInputs.clear();
    this.respawning = true;
    const init: WorkerInitOptions = {
      ...(this.options.init ?? {}),
      autorun: false,
      snapshot: false,
      notebook: undefined,
      notebookURL: undefined,
      outputs: undefined,
      outputsURL: undefined,
    };
    this.start(init).catch((error: unknown) => {
      this.respawning = false;
      this.messages.emit({ type: "kernel-restarted", ok: false, error: String(error), request_id: this.restartRequest });
    });
  }

  /** Ask the worker for a virtual file (`@file/...` URL). */
  readFile(url: string): Promise<FileReply> {
    const worker = this.worker;
    if (!worker || !this.ready) return Promise.resolve({ found: false, reason: "the kernel is not running" });
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = (event: MessageEvent<FileReply>) => {
        channel.port1.close();
        resolve(event.data);
      };
      worker.postMessage({ kind: "file", url, port: channel.port2 } satisfies PageToWorker, [channel.port2]);
    });
  }

  onNotification(callback: (message: Incoming) => void): () => void {
    return this.messages.add(callback);
  }

  onStatus(callback: (status: TransportStatus) => void): () => void {
    return this.statuses.add(callback);
  }

  fileUrl(url: string): string {
    return new URL(url, this.options.fileBase ?? location.href).toString();
  }

  close(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.stopFiles?.();
    this.stopFiles = null;
    this.worker?.terminate();
    this.worker = null;
    this.ready = false;
    this.setStatus({ state: "closed" });
  }
}
