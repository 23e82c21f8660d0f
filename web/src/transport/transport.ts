// The one interface everything above the transport uses.  Two implementations: WebSocket (the
// local server) and Worker (Pyodide in a Web Worker).  Frames are msgpack both ways.
import { decode, encode } from "@msgpack/msgpack";
import type { HostCommand, HostMessage } from "../host-messages";
import type { Command, Notification } from "../protocol.generated";

/** What the page sends: kernel commands and host-level requests. */
export type Outgoing = Command | HostCommand;

/** A message whose `type` this page does not know: ignored above the transport. */
export interface UnknownMessage {
  type: string;
  [key: string]: unknown;
}

/** What the page receives: kernel notifications and host-level messages. */
export type Incoming = Notification | HostMessage | UnknownMessage;

export type TransportState = "connecting" | "open" | "reconnecting" | "closed";

export interface TransportStatus {
  state: TransportState;
  /** True on an `open` that follows a dropped connection: the host resends its state. */
  resumed?: boolean;
  /** Milliseconds until the next connection attempt (state `reconnecting`). */
  retryIn?: number;
  /** Boot progress (Worker transport): what is happening, 0..1 when known. */
  stage?: string;
  progress?: number;
  /** Why the transport closed or failed. */
  error?: string;
}

export interface Transport {
  /** Start connecting; resolves once the first connection is open (rejects if it never can). */
  connect(): Promise<void>;
  /** Send one message (queued while disconnected, sent in order once open). */
  send(message: Outgoing): void;
  /** Subscribe to incoming messages; returns the unsubscribe function. */
  onNotification(callback: (message: Incoming) => void): () => void;
  /** Subscribe to connection state changes; returns the unsubscribe function. */
  onStatus(callback: (status: TransportStatus) => void): () => void;
  /** Resolve a virtual-file URL (`@file/...`) to one the page can fetch. */
  fileUrl(url: string): string;
  /** Close for good (no reconnection). */
  close(): void;
}

export function encodeFrame(message: Outgoing): Uint8Array<ArrayBuffer> {
  return encode(message, { ignoreUndefined: true }) as Uint8Array<ArrayBuffer>;
}

/** Decode one frame; `null` for frames that are not a msgpack map with a string `type`. */
export function decodeFrame(frame: ArrayBuffer | Uint8Array): Incoming | null {
  try {
    const value = decode(frame instanceof Uint8Array ? frame : new Uint8Array(frame));
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const type = (value as { type?: unknown }).type;
      if (typeof type === "string") return value as Incoming;
    }
  } catch (error) {
    console.warn("amphikernel: undecodable frame", error);
  }
  return null;
}

/** Shared listener bookkeeping for the implementations. */
export class Listeners<T> {
  private readonly callbacks = new Set<(value: T) => void>();

  add(callback: (value: T) => void): () => void {
    this.callbacks.add(callback);
    return () => this.callbacks.delete(callback);
  }

  emit(value: T): void {
    for (const callback of [...this.callbacks]) {
      try {
        callback(value);
      } catch (error) {
        console.error("amphikernel: listener failed", error);
      }
    }
  }
}
