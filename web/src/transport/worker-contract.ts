// The postMessage contract between the page (WorkerTransport) and a Web Worker that hosts the
// kernel (Pyodide: src/worker/pyodide-worker.ts, built to worker.js).  Shared by both sides.
//
// Frames: every kernel command / notification and every host-level message travels as ONE
// msgpack frame in a Uint8Array, exactly the bytes a WebSocket binary message would carry.
// The sender transfers the underlying ArrayBuffer (`postMessage(msg, [msg.data.buffer])`), so
// a frame must own its whole buffer (byteOffset 0, byteLength === buffer.byteLength).
//
// Page -> worker:
//   { kind: "init", options, interruptBuffer, stdinBuffer }   first message, once.
//       `interruptBuffer` is an Int32Array over a SharedArrayBuffer of length 1 when the page
//       is crossOriginIsolated, else null.  The page writes 2 (SIGINT) into it to interrupt a
//       running cell; the worker passes it to `pyodide.setInterruptBuffer` (an `interrupt`
//       frame is also sent).  `stdinBuffer` (isolated pages only, else null/absent) is the
//       SharedArrayBuffer `input()` waits on (layout: STDIN_* below): the page answers an
//       `input-request` by writing the UTF-8 text in chunks (stdin-channel.ts; up to
//       STDIN_LIMIT bytes, a longer reply is refused with STDIN_TOO_LARGE), or STDIN_INTERRUPTED
//       (interrupt while waiting), with `Atomics.notify`; no `input-reply` frame is sent.
//   { kind: "preload", options }                  optional, before "init": start the downloads
//       and Python's start-up for these options at once (a page creates its worker early, from
//       an inline script, before its own scripts have loaded); an "init" with the same options
//       then uses them, one with other options starts afresh.
//   { kind: "frame", data }                       a msgpack frame (command or host request).
//   { kind: "file", url, port }                   read a virtual file (`@file/...` URL); the
//       worker answers on `port` with a FileReply (the page relays the service worker's
//       requests this way).
//
// Worker -> page:
//   { kind: "progress", stage, progress? }        boot progress (`stage` is human text,
//       `progress` 0..1 when known), any number of times before "ready".
//   { kind: "ready" }                             the kernel accepts frames; the worker has
//       sent (or sends right after) a `notebook` snapshot frame, then `kernel-ready`.
//   { kind: "frame", data }                       a msgpack frame (notification or host msg).
//   { kind: "error", message }                    boot failed or the worker cannot go on.
//
// Before "ready" the worker may already send frames that need no kernel: a `notebook`
// snapshot of `options.notebook` and the pre-rendered outputs of `options.outputs` (cell-output,
// cell-console, cell-error notifications), so the page shows the notebook while Python loads.
// The page keeps those outputs until their cell runs.
//
// Frames the page sends before "ready" are queued by the page and sent after it.
// Host-level messages the worker answers like the server does: `restart-kernel` ->
// `kernel-restarted`; `save-notebook` -> `notebook-saved` with ok: false (a browser page has no
// file to write) and, as extra fields, `content` (the cells as a percent-format .py) and
// `filename`, so the page can offer a download instead.  `@file/...` URLs are fetched by the
// page as they are: the site's service worker (sw.js) asks the page, which asks the worker.

/** Options of the `init` message.  Relative URLs are resolved against the worker script's URL. */
export interface WorkerInitOptions {
  /** Directory with pyodide.mjs and pyodide-lock.json (default "./pyodide/"). */
  pyodideIndexURL?: string;
  /** Lock packages loaded at boot besides `amphikernel` (and its dependency msgspec). */
  packages?: string[];
  /** PEP 503 (or PyPI JSON) indexes micropip tries first, in order (default ["./simple/"]). */
  indexURLs?: string[];
  /** Requirements installed with micropip before the kernel starts. */
  requirements?: string[];
  /** Kernel mode (default "edit"); also the `mode` of the notebook snapshot. */
  mode?: "edit" | "run";
  /** Dataflow semantics (default: the notebook's, else "script"). */
  semantics?: "script" | "strict";
  /** The notebook, inline: its cells are sent as a snapshot before Python loads. */
  notebook?: WorkerNotebook;
  /**
   * Or its URL: a `.json` WorkerNotebook (shown before Python loads), or a percent-format
   * `.py` / `.ipynb` (parsed by Python once it is loaded).
   */
  notebookURL?: string;
  /** Pre-rendered outputs: a msgpack array of cell-output / cell-console / cell-error maps. */
  outputs?: Uint8Array;
  /** Or the URL of such a msgpack file. */
  outputsURL?: string;
  /** Run every code cell of the notebook once the kernel is ready (default: true when a notebook is given). */
  autorun?: boolean;
  /** Send a `notebook` snapshot (default true; an empty one when no notebook is given). */
  snapshot?: boolean;
  /** File name offered when the page downloads the notebook (default: the notebook's path, else "notebook.py"). */
  filename?: string;
  /**
   * The notebook file as the site holds it (a percent-format `.py`; default: `notebookURL` when
   * that is one).  Edit mode: the download keeps its header (docstring, PEP 723 block, comments)
   * and unedited cells byte for byte.
   */
  sourceURL?: string;
  /** Route urllib / http.client through synchronous XMLHttpRequest (default true). */
  patchHttp?: boolean;
  /** Install missing imports of a cell before it runs (default true). */
  autoInstall?: boolean;
  /**
   * Restore Python from the runtime folder's memory snapshot (`memory-snapshot.json` +
   * `memory-snapshot.bin.gz`, made at export time) when it matches the runtime (default true);
   * a missing, mismatched or broken snapshot means a normal boot (with a console note).
   */
  memorySnapshot?: boolean;
  [key: string]: unknown;
}

/** A notebook as the worker sends it in its snapshot (cells as in host-messages.ts). */
export interface WorkerNotebook {
  cells: Array<{ id: string; kind?: "code" | "markdown" | "raw"; source?: string; name?: string | null; options?: Record<string, unknown> }>;
  path?: string;
  semantics?: "script" | "strict";
}

export type PageToWorker =
  | { kind: "init"; options: WorkerInitOptions; interruptBuffer: Int32Array | null; stdinBuffer?: SharedArrayBuffer | null }
  | { kind: "preload"; options: WorkerInitOptions }
  | { kind: "frame"; data: Uint8Array }
  | { kind: "file"; url: string; port: MessagePort };

export type WorkerToPage =
  | { kind: "progress"; stage: string; progress?: number }
  | { kind: "ready" }
  | { kind: "frame"; data: Uint8Array }
  | { kind: "error"; message: string };

/** The worker's answer to a `file` request. */
export type FileReply = { found: true; data: Uint8Array; mimetype: string } | { found: false; reason?: string };

/** Value written into the interrupt buffer to raise KeyboardInterrupt (SIGINT). */
export const SIGINT = 2;

/**
 * stdin buffer layout: Int32 [state, chunk length, total length, chunk offset], then one chunk
 * (STDIN_CAPACITY bytes) of the UTF-8 reply; replies go in chunks (./stdin-channel.ts).
 */
export const STDIN_HEADER_BYTES = 16;
export const STDIN_CAPACITY = 1 << 20;
/** The longest `input()` reply, in UTF-8 bytes (16 MiB; pyodide_host.jsbridge.STDIN_LIMIT). */
export const STDIN_LIMIT = 16 * 1024 * 1024;
export const STDIN_WAITING = 0;
export const STDIN_REPLY = 1;
export const STDIN_INTERRUPTED = 2;
export const STDIN_TOO_LARGE = 3;
