// Worker transport: the kernel runs in a Web Worker (Pyodide).  See worker-contract.ts for the
// postMessage contract.
import {
  decodeFrame,
  encodeFrame,
  type Incoming,
  Listeners,
  type Outgoing,
  type Transport,
  type TransportStatus,
} from "./transport";
import { SIGINT, type PageToWorker, type WorkerInitOptions, type WorkerToPage } from "./worker-contract";

export interface WorkerTransportOptions {
  /** The worker, or a function creating it (called by connect()). */
  worker: Worker | (() => Worker);
  /** Passed to the worker in the `init` message. */
  init?: WorkerInitOptions;
  /** Base URL for `@file/` virtual files (default: the page's URL). */
  fileBase?: string;
}

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
  status: TransportStatus = { state: "connecting" };

  constructor(private readonly options: WorkerTransportOptions) {}

  private setStatus(status: TransportStatus): void {
    this.status = status;
    this.statuses.emit(status);
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = typeof this.options.worker === "function" ? this.options.worker() : this.options.worker;
      this.worker = worker;
      this.setStatus({ state: "connecting", stage: "starting the worker" });
      worker.onmessage = (event: MessageEvent<WorkerToPage>) => {
        const message = event.data;
        switch (message.kind) {
          case "progress":
            this.setStatus({ state: "connecting", stage: message.stage, progress: message.progress });
            break;
          case "ready": {
            this.ready = true;
            this.setStatus({ state: "open", resumed: false });
            const pending = this.queue;
            this.queue = [];
            for (const frame of pending) this.post({ kind: "frame", data: frame });
            resolve();
            break;
          }
          case "frame": {
            const decoded = decodeFrame(message.data);
            if (decoded) this.messages.emit(decoded);
            break;
          }
          case "error":
            this.setStatus({ state: "closed", error: message.message });
            reject(new Error(message.message));
            break;
        }
      };
      worker.onerror = (event: ErrorEvent) => {
        const error = event.message || "the worker failed";
        this.setStatus({ state: "closed", error });
        reject(new Error(error));
      };
      if (typeof SharedArrayBuffer !== "undefined" && globalThis.crossOriginIsolated) {
        this.interruptBuffer = new Int32Array(new SharedArrayBuffer(4));
      }
      this.post({ kind: "init", options: this.options.init ?? {}, interruptBuffer: this.interruptBuffer });
    });
  }

  private post(message: PageToWorker): void {
    if (!this.worker) return;
    if (message.kind === "frame") this.worker.postMessage(message, [message.data.buffer as ArrayBuffer]);
    else this.worker.postMessage(message);
  }

  send(message: Outgoing): void {
    if (message.type === "interrupt" && this.interruptBuffer) {
      Atomics.store(this.interruptBuffer, 0, SIGINT);
    }
    const frame = ownedFrame(encodeFrame(message));
    if (this.ready) this.post({ kind: "frame", data: frame });
    else this.queue.push(frame);
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
    this.worker?.terminate();
    this.worker = null;
    this.ready = false;
    this.setStatus({ state: "closed" });
  }
}
