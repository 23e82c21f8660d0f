// WebSocket transport to the local server: binary msgpack frames both ways, reconnection with
// exponential backoff.  After a reconnection the server sends its `notebook` snapshot and the
// session's replayed state again; the `open` status carries `resumed: true` so the session
// knows to resynchronise.  An app server names the reader's session in a `resume-session`
// host message; reconnections then ask for it (`?resume=<id>`), so a reader whose server
// instance went away gets the same session back through any other instance.  The page asks for
// batched messages (`?batch=1`): the server may then send several waiting frames as one
// `{"type": "frames", "frames": [<bin>...]}` message, whose items are ordinary frames, in
// order (subprocess_host/server/batching.py); they are delivered one by one as if sent alone.
import {
  decodeFrame,
  encodeFrame,
  type Incoming,
  Listeners,
  type Outgoing,
  type Transport,
  type TransportStatus,
} from "./transport";

export interface WebSocketOptions {
  /** ws:// or wss:// URL of the session socket (token included when the server needs one). */
  url: string;
  /** Base URL that `@file/...` virtual-file URLs are resolved against. */
  fileBase?: string;
  /** Query string (without `?`) appended to virtual-file URLs, e.g. `token=...`. */
  fileQuery?: string;
  /** First retry delay and the cap, in milliseconds. */
  minDelay?: number;
  maxDelay?: number;
  /** Frames kept while disconnected (older ones are dropped past this many). */
  maxQueue?: number;
}

/** Close codes after which reconnecting cannot help (bad token, refused session). */
const FATAL_CLOSE_CODES = new Set([1008, 4001, 4003, 4401, 4403, 4404]);

export class WebSocketTransport implements Transport {
  private socket: WebSocket | null = null;
  private readonly messages = new Listeners<Incoming>();
  private readonly statuses = new Listeners<TransportStatus>();
  private queue: Uint8Array<ArrayBuffer>[] = [];
  private closed = false;
  private opened = false;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private firstOpen: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private resumeId: string | null = null;
  status: TransportStatus = { state: "connecting" };

  constructor(private readonly options: WebSocketOptions) {}

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.firstOpen = { resolve, reject };
      this.open();
    });
  }

  private setStatus(status: TransportStatus): void {
    this.status = status;
    this.statuses.emit(status);
  }

  private open(): void {
    if (this.closed) return;
    this.timer = null;
    const resumed = this.opened;
    this.setStatus({ state: this.opened ? "reconnecting" : "connecting" });
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.socketUrl());
    } catch (error) {
      this.fail(String(error));
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      this.opened = true;
      this.setStatus({ state: "open", resumed });
      const pending = this.queue;
      this.queue = [];
      for (const frame of pending) socket.send(frame);
      this.firstOpen?.resolve();
      this.firstOpen = null;
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket) return;
      if (!(event.data instanceof ArrayBuffer)) return; // the protocol is binary only
      const message = decodeFrame(event.data);
      if (!message) return;
      const batch = message as { type?: unknown; frames?: unknown };
      if (batch.type === "frames" && Array.isArray(batch.frames)) {
        for (const frame of batch.frames) {
          if (!(frame instanceof Uint8Array)) continue;
          const one = decodeFrame(frame);
          // A batch never nests: a `frames` item inside one is not delivered.
          if (one && one.type !== "frames") this.deliver(one);
        }
        return;
      }
      this.deliver(message);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.closed) return;
      if (FATAL_CLOSE_CODES.has(event.code)) {
        this.fail(event.reason || `connection refused (code ${event.code})`);
        return;
      }
      this.scheduleReconnect();
    };
    socket.onerror = () => {
      // onclose follows and decides what to do.
    };
  }

  /** One incoming message (a frame sent alone or an item of a `frames` batch). */
  private deliver(message: Incoming): void {
    const resume = message as { type?: unknown; id?: unknown };
    if (resume.type === "resume-session" && typeof resume.id === "string") {
      this.resumeId = resume.id;
      return;
    }
    this.messages.emit(message);
  }

  /** The socket URL: `batch=1`, and `resume=<session id>` once the host has named the session. */
  private socketUrl(): string {
    const url = new URL(this.options.url);
    url.searchParams.set("batch", "1");
    if (this.resumeId) url.searchParams.set("resume", this.resumeId);
    return url.toString();
  }

  private scheduleReconnect(): void {
    const min = this.options.minDelay ?? 250;
    const max = this.options.maxDelay ?? 5000;
    const delay = Math.min(max, min * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    this.setStatus({ state: "reconnecting", retryIn: Math.round(delay) });
    this.timer = setTimeout(() => this.open(), delay);
  }

  private fail(error: string): void {
    this.closed = true;
    this.setStatus({ state: "closed", error });
    this.firstOpen?.reject(new Error(error));
    this.firstOpen = null;
  }

  /** Reconnect now instead of waiting for the backoff timer (e.g. the user clicked "retry"). */
  retryNow(): void {
    if (this.closed || this.socket) return;
    if (this.timer) clearTimeout(this.timer);
    this.open();
  }

  /** Drop the current connection as a network failure would (used by tests and "reconnect"). */
  drop(): void {
    this.socket?.close(4000, "dropped by the page");
  }

  send(message: Outgoing): void {
    const frame = encodeFrame(message);
    const socket = this.socket;
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(frame);
      return;
    }
    this.queue.push(frame);
    const max = this.options.maxQueue ?? 1000;
    if (this.queue.length > max) this.queue.splice(0, this.queue.length - max);
  }

  onNotification(callback: (message: Incoming) => void): () => void {
    return this.messages.add(callback);
  }

  onStatus(callback: (status: TransportStatus) => void): () => void {
    return this.statuses.add(callback);
  }

  fileUrl(url: string): string {
    // Relative, like an <img src="@file/..."> in an HTML output: the page's own URL is the base.
    const resolved = new URL(url, this.options.fileBase ?? location.href);
    if (this.options.fileQuery && url.includes("@file/")) {
      resolved.search = resolved.search ? `${resolved.search}&${this.options.fileQuery}` : this.options.fileQuery;
    }
    return resolved.toString();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close(1000, "closed by the page");
    this.socket = null;
    this.setStatus({ state: "closed" });
  }
}
