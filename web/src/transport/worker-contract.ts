// The postMessage contract between the page (WorkerTransport) and a Web Worker that hosts the
// kernel (Pyodide).  Shared by both sides: the worker script imports these types.
//
// Frames: every kernel command / notification and every host-level message travels as ONE
// msgpack frame in a Uint8Array, exactly the bytes a WebSocket binary message would carry.
// The sender transfers the underlying ArrayBuffer (`postMessage(msg, [msg.data.buffer])`), so
// a frame must own its whole buffer (byteOffset 0, byteLength === buffer.byteLength).
//
// Page -> worker:
//   { kind: "init", options, interruptBuffer }   first message, once.  `interruptBuffer` is an
//       Int32Array over a SharedArrayBuffer of length 1 when the page is crossOriginIsolated,
//       else null.  The page writes 2 (SIGINT) into it to interrupt a running cell; the worker
//       passes it to `pyodide.setInterruptBuffer` (an `interrupt` frame is also sent).
//   { kind: "frame", data }                       a msgpack frame (command or host request).
//
// Worker -> page:
//   { kind: "progress", stage, progress? }        boot progress (`stage` is human text,
//       `progress` 0..1 when known), any number of times before "ready".
//   { kind: "ready" }                             the kernel accepts frames; the worker has
//       sent (or sends right after) a `notebook` snapshot frame, then `kernel-ready`.
//   { kind: "frame", data }                       a msgpack frame (notification or host msg).
//   { kind: "error", message }                    boot failed or the worker cannot go on.
//
// Frames the page sends before "ready" are queued by the page and sent after it.
// Host-level messages the worker should answer like the server does: `restart-kernel` ->
// `kernel-restarted`; `save-notebook` -> `notebook-saved` (ok: false with an error when the
// worker cannot save).  `@file/...` URLs are fetched by the page as they are (the site's
// service worker serves them).

export interface WorkerInitOptions {
  /** Free-form settings for the worker (e.g. the notebook URL, package index). */
  [key: string]: unknown;
}

export type PageToWorker =
  | { kind: "init"; options: WorkerInitOptions; interruptBuffer: Int32Array | null }
  | { kind: "frame"; data: Uint8Array };

export type WorkerToPage =
  | { kind: "progress"; stage: string; progress?: number }
  | { kind: "ready" }
  | { kind: "frame"; data: Uint8Array }
  | { kind: "error"; message: string };

/** Value written into the interrupt buffer to raise KeyboardInterrupt (SIGINT). */
export const SIGINT = 2;
