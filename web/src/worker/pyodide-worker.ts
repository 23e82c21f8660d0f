// The kernel's module Web Worker (built to worker.js): boots Pyodide from the site itself,
// loads our wheel (and msgspec) from the site's pyodide-lock.json, creates one kernel session
// (pyodide_host.session.create_session) and speaks the Worker transport: see
// ../transport/worker-contract.ts for the messages and the init options.
//
// Everything is fetched from the site: `pyodideIndexURL` (default ./pyodide/ next to this
// script) holds pyodide.mjs, the wasm, the stdlib and the wheels; micropip's first index is the
// site's own PEP 503 `simple/`.  Nothing comes from a CDN.
//
// A page may send `preload` before `init` (its inline script starts this worker while the page's
// own scripts load): the downloads and Python's start-up (`prepare`) begin then.  User-timing
// marks `amphi:boot`, `amphi:module-created`, `amphi:complete` (snapshot inflated),
// `amphi:finish-restore`, `amphi:python-loaded`, `amphi:ready` are left for profiles.
import { decode, encode } from "@msgpack/msgpack";
import { readStdinReply } from "../transport/stdin-channel";
import { type CreateModule, fetchSnapshot, loadPyodideFast } from "./memory-snapshot";
import { prefetch } from "./prefetch";
import {
  type FileReply,
  type PageToWorker,
  type WorkerInitOptions,
  type WorkerNotebook,
  type WorkerToPage,
} from "../transport/worker-contract";

interface WorkerScope {
  location: { href: string };
  onmessage: ((event: MessageEvent<PageToWorker>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

/** The parts of the Pyodide API this worker uses. */
interface Pyodide {
  loadPackage(names: string[], options?: { messageCallback?: (m: string) => void; errorCallback?: (m: string) => void }): Promise<unknown>;
  pyimport(name: string): PyProxy;
  setInterruptBuffer(buffer: Int32Array): void;
  toPy(value: unknown): PyProxy;
}
// A Python object seen from JavaScript (methods are called as properties).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type PyProxy = any;

const scope = self as unknown as WorkerScope;

function post(message: WorkerToPage, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

function progress(stage: string, value?: number): void {
  post({ kind: "progress", stage, progress: value });
}

/** A frame that owns its whole (non-shared) buffer, so it can be transferred. */
function owned(frame: Uint8Array): Uint8Array<ArrayBuffer> {
  if (frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength && frame.buffer instanceof ArrayBuffer) {
    return frame as Uint8Array<ArrayBuffer>;
  }
  return frame.slice() as Uint8Array<ArrayBuffer>;
}

function sendFrame(frame: Uint8Array): void {
  const data = owned(frame);
  post({ kind: "frame", data }, [data.buffer]);
}

function sendMessage(message: Record<string, unknown>): void {
  sendFrame(encode(message, { ignoreUndefined: true }));
}

let session: PyProxy | null = null;
let interruptBuffer: Int32Array | null = null;
const early: Uint8Array[] = [];

function handleFrame(frame: Uint8Array): void {
  if (!session) {
    early.push(frame);
    return;
  }
  try {
    session.handle_frame(frame);
  } catch (error) {
    console.error("amphikernel worker: a frame could not be handed to the kernel", error);
  }
}

function answerFile(url: string, port: MessagePort): void {
  let reply: FileReply = { found: false, reason: session ? "no such virtual file" : "the kernel is still starting" };
  const transfer: Transferable[] = [];
  if (session) {
    let found: PyProxy = null;
    try {
      found = session.read_file_js(url);
      if (found) {
        const view = found[0] as Uint8Array;
        const data = view.slice() as Uint8Array<ArrayBuffer>;
        reply = { found: true, data, mimetype: String(found[1]) };
        transfer.push(data.buffer);
      }
    } catch (error) {
      reply = { found: false, reason: String(error) };
    } finally {
      if (found && typeof found.destroy === "function") found.destroy();
    }
  }
  port.postMessage(reply, transfer);
  port.close();
}

/**
 * `input()` through the stdin SharedArrayBuffer: block until the page's whole reply arrived
 * (in chunks, ../transport/stdin-channel.ts).  Returns the text, null when interrupted, or the
 * size in bytes of a reply the page refused as too long (Python raises for both).
 */
function makeWaitReply(buffer: SharedArrayBuffer): () => string | number | null {
  return () => {
    const reply = readStdinReply(buffer);
    // An interrupt while waiting: the page also wrote SIGINT into the interrupt buffer; the
    // KeyboardInterrupt is raised by the caller, so it must not fire a second time later.
    if (reply === null && interruptBuffer) Atomics.store(interruptBuffer, 0, 0);
    return reply;
  };
}

interface LoadedNotebook {
  notebook: WorkerNotebook | null;
  /** A .py / .ipynb text Python parses once it is loaded. */
  text: string | null;
  name: string;
}

async function fetchOk(url: string): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

async function loadNotebook(options: WorkerInitOptions, resolve: (u: string) => string): Promise<LoadedNotebook> {
  if (options.notebook) return { notebook: options.notebook, text: null, name: options.notebook.path ?? "" };
  if (!options.notebookURL) return { notebook: null, text: null, name: "" };
  const url = resolve(options.notebookURL);
  const name = decodeURIComponent(new URL(url).pathname.split("/").pop() ?? "");
  const response = await fetchOk(url);
  if (/\.json$/i.test(name) || (response.headers.get("content-type") ?? "").includes("json") && !/\.ipynb$/i.test(name)) {
    const notebook = (await response.json()) as WorkerNotebook;
    return { notebook: { ...notebook, path: notebook.path ?? name }, text: null, name };
  }
  return { notebook: null, text: await response.text(), name };
}

async function loadOutputs(options: WorkerInitOptions, resolve: (u: string) => string): Promise<Uint8Array | null> {
  if (options.outputs) return options.outputs;
  if (!options.outputsURL) return null;
  try {
    return new Uint8Array(await (await fetchOk(resolve(options.outputsURL))).arrayBuffer());
  } catch (error) {
    console.warn("amphikernel worker: pre-rendered outputs not loaded", error);
    return null;
  }
}

/**
 * The notebook file's text (`sourceURL`, else a percent-format `notebookURL`), byte-order mark
 * kept, for downloads that change only edited cells; null when there is none (edit mode only).
 */
async function loadSource(options: WorkerInitOptions, resolve: (u: string) => string): Promise<string | null> {
  if (options.mode === "run") return null;
  const url = options.sourceURL ?? (options.notebookURL && /\.py$/i.test(options.notebookURL) ? options.notebookURL : undefined);
  if (!url) return null;
  try {
    const bytes = await (await fetchOk(resolve(url))).arrayBuffer();
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (error) {
    console.warn("amphikernel worker: the notebook file's text is not available; downloads are written out whole", error);
    return null;
  }
}

/** Import name -> lock package, from pyodide-lock.json (what the auto-install hook loads). */
async function importMap(indexURL: string): Promise<Record<string, string>> {
  const map: Record<string, string> = {};
  try {
    const lock = (await (await fetchOk(`${indexURL}pyodide-lock.json`)).json()) as {
      packages?: Record<string, { name?: string; imports?: string[] }>;
    };
    for (const [key, entry] of Object.entries(lock.packages ?? {})) {
      for (const name of entry.imports ?? []) map[name] = key;
    }
  } catch (error) {
    console.warn("amphikernel worker: no import map", error);
  }
  return map;
}

function snapshotOf(notebook: WorkerNotebook | null, mode: string, semantics: string | undefined): Record<string, unknown> {
  return {
    type: "notebook",
    cells: (notebook?.cells ?? []).map((c) => ({
      id: c.id,
      kind: c.kind ?? "code",
      source: c.source ?? "",
      name: c.name ?? null,
      options: c.options ?? {},
    })),
    path: notebook?.path ?? "",
    mode,
    saved: true,
    semantics: semantics ?? notebook?.semantics ?? "script",
  };
}

/** What `prepare` starts: downloads and Python's start-up, before (or without) the page's `init`. */
interface Prepared {
  key: string;
  pythonLoad: Promise<{ pyodide: Pyodide; restored: boolean }>;
  imports: Promise<Record<string, string>>;
  notebookLoad: Promise<LoadedNotebook>;
  outputsLoad: Promise<Uint8Array | null>;
  sourceLoad: Promise<string | null>;
}

/**
 * Start the big downloads and Python itself for `options` (everything that needs neither the
 * page's buffers nor a way to talk to it): on `preload`, else on `init`.
 */
function prepare(options: WorkerInitOptions): Prepared {
  performance.mark("amphi:boot");
  const resolve = (url: string) => new URL(url, scope.location.href).toString();
  let indexURL = resolve(options.pyodideIndexURL ?? "./pyodide/");
  if (!indexURL.endsWith("/")) indexURL += "/";
  // The runtime's wasm and standard library are requested now, beside the runtime's scripts
  // and the snapshot, not only once loadPyodide has started (./prefetch.ts).
  prefetch([`${indexURL}pyodide.asm.wasm`, `${indexURL}python_stdlib.zip`]);
  const runtime = import(/* webpackIgnore: true */ `${indexURL}pyodide.mjs`) as Promise<{
    loadPyodide(config: Record<string, unknown>): Promise<Pyodide>;
    version?: string;
  }>;
  // The site's memory snapshot (./memory-snapshot.ts), checked against the runtime.
  const memorySnapshot =
    options.memorySnapshot === false ? Promise.resolve(null) : fetchSnapshot(indexURL, runtime.then((r) => r.version ?? null, () => null));
  // Python starts at once (the runtime's wasm and stdlib download while the snapshot does).
  const createModule = (import(/* webpackIgnore: true */ `${indexURL}pyodide.asm.mjs`) as Promise<{ default: CreateModule }>).then((m) => m.default);
  createModule.catch(() => {}); // awaited (and reported) by whichever boot uses it
  const config = { indexURL, stdout: (line: string) => console.log(line), stderr: (line: string) => console.warn(line) };
  const pythonLoad = runtime.then(({ loadPyodide }) => loadPyodideFast(loadPyodide, config, memorySnapshot, createModule));
  pythonLoad.catch(() => {}); // awaited by boot
  const imports = importMap(indexURL);
  const notebookLoad = loadNotebook(options, resolve);
  notebookLoad.catch(() => {});
  const outputsLoad = loadOutputs(options, resolve);
  const sourceLoad = loadSource(options, resolve);
  return { key: JSON.stringify(options), pythonLoad, imports, notebookLoad, outputsLoad, sourceLoad };
}

let prepared: Prepared | null = null;

async function boot(init: Extract<PageToWorker, { kind: "init" }>): Promise<void> {
  const options: WorkerInitOptions = init.options ?? {};
  const resolve = (url: string) => new URL(url, scope.location.href).toString();
  const mode = options.mode === "run" ? "run" : "edit";
  const wantSnapshot = options.snapshot !== false;
  interruptBuffer = init.interruptBuffer ?? null;

  progress("Loading the Python runtime", 0.02);
  // Started by a `preload` with the same options, else now.
  const ready = prepared?.key === JSON.stringify(options) ? prepared : prepare(options);
  prepared = null;
  const { pythonLoad, imports, notebookLoad, outputsLoad, sourceLoad } = ready;

  let loaded = await notebookLoad;
  // While Python loads: the notebook and the outputs it was exported with.
  if (loaded.notebook && wantSnapshot) sendMessage(snapshotOf(loaded.notebook, mode, options.semantics));
  const preview = await outputsLoad;
  if (preview && loaded.notebook) {
    const notes = decode(preview);
    if (Array.isArray(notes)) for (const note of notes) sendFrame(encode(note));
  }

  progress("Starting Python", 0.3);
  const { pyodide } = await pythonLoad;
  performance.mark("amphi:python-loaded");
  progress("Loading the kernel's packages", 0.75);
  if (interruptBuffer) pyodide.setInterruptBuffer(interruptBuffer);
  const quiet = { messageCallback: () => {}, errorCallback: (m: string) => console.warn(m) };
  await pyodide.loadPackage(["amphikernel", ...(options.packages ?? [])], quiet);

  const sessionModule = pyodide.pyimport("pyodide_host.session");
  if (!loaded.notebook && loaded.text !== null) {
    const parsed = JSON.parse(String(sessionModule.parse_notebook(loaded.text, loaded.name))) as WorkerNotebook;
    loaded = { notebook: parsed, text: null, name: loaded.name };
  }
  const notebook = loaded.notebook;
  const filename = options.filename ?? (notebook?.path ? notebook.path.split("/").pop() : undefined) ?? "notebook.py";
  const indexURLs = (options.indexURLs ?? ["./simple/"]).map(resolve);
  progress("Starting the kernel", 0.9);
  session = sessionModule.create_session.callKwargs(sendFrame, {
    wait_reply: init.stdinBuffer ? makeWaitReply(init.stdinBuffer) : null,
    interrupt_available: interruptBuffer !== null,
    index_urls: indexURLs,
    mode,
    semantics: options.semantics ?? notebook?.semantics ?? "script",
    start: false,
    auto_install: options.autoInstall !== false,
    import_map: pyodide.toPy(await imports),
    filename: filename.endsWith(".py") ? filename : `${filename.replace(/\.[^.]*$/, "")}.py`,
    patch_http: options.patchHttp !== false,
    // An interruptible blocking time.sleep (isolated pages): wakes up when the page interrupts.
    sleep: interruptBuffer ? (seconds: number) => void Atomics.wait(interruptBuffer as Int32Array, 0, 0, seconds * 1000) : null,
    // The file's own text: a download rewrites only the cells that were edited.
    source_text: await sourceLoad,
  });
  sessionModule.destroy();
  if (options.requirements?.length) {
    progress(`Installing ${options.requirements.join(", ")}`, 0.95);
    const result: PyProxy = await session.install_packages(pyodide.toPy(options.requirements));
    const failed = result.get(1).toJs({ dict_converter: Object.fromEntries }) as Record<string, string>;
    result.destroy();
    for (const [name, why] of Object.entries(failed)) console.warn(`amphikernel: could not install ${name}: ${why}`);
  }

  post({ kind: "ready" });
  performance.mark("amphi:ready");
  if (wantSnapshot) sendMessage(snapshotOf(notebook, mode, options.semantics));
  const task: PyProxy = session.start();
  if (task && typeof task.destroy === "function") task.destroy();
  const autorun = options.autorun ?? notebook !== null;
  const code = (notebook?.cells ?? []).filter((c) => (c.kind ?? "code") === "code");
  if (autorun && code.length) {
    handleFrame(
      encode({
        type: "execute-cells",
        cell_ids: code.map((c) => c.id),
        codes: code.map((c) => c.source ?? ""),
        order: (notebook?.cells ?? []).map((c) => c.id),
      }),
    );
  }
  for (const frame of early.splice(0)) handleFrame(frame);
}

let started = false;
scope.onmessage = (event: MessageEvent<PageToWorker>) => {
  const message = event.data;
  switch (message.kind) {
    case "preload":
      if (started || prepared) return;
      prepared = prepare(message.options ?? {});
      return;
    case "init":
      if (started) return;
      started = true;
      boot(message).catch((error: unknown) => {
        const text = error instanceof Error ? error.message : String(error);
        console.error("amphikernel worker: boot failed", error);
        post({ kind: "error", message: `Python could not start: ${text}` });
      });
      return;
    case "frame":
      handleFrame(message.data);
      return;
    case "file":
      answerFile(message.url, message.port);
      return;
  }
};
