// Booting the kernel's Pyodide from a memory snapshot (pyodide_host/build/snapshot.py makes it
// under Node at build time, with pyodide_host/node/snapshot.mjs, whose `boot` mode does the same
// steps as this file for Node).
//
// The site's pyodide/ folder may hold `memory-snapshot.json` (a sidecar: format, Pyodide
// version, the lock's SHA-256, the packages inside, the container's size) and
// `memory-snapshot.bin.gz` (the container, gzip).  `fetchSnapshot` checks the sidecar against
// the runtime (the download starts meanwhile) and returns null (after a console note) when
// anything does not match; the worker then boots normally.  Otherwise the container streams
// through DecompressionStream into one buffer of its final size while loadPyodide already
// runs: `restoreOptions` hands it the memory section as soon as the header is in (Pyodide only
// reads its length before the runtime is instantiated: the wasm and stdlib downloads and the
// wasm compile overlap the snapshot's download), and a `createPyodideModule` that, once the
// runtime is instantiated, waits for the last byte, then instantiates the shared libraries of
// the snapshot at their old memory and table base *before* the memory is restored (the
// WebAssembly table is not part of the memory).  A download or restore that fails on the way
// makes loadPyodide fail: `loadPyodideFast` notes it and boots normally.  `finishRestore` writes site-packages back (the file system lives in
// JavaScript), tells the package manager what is loaded, reseeds `random` and re-enables the
// garbage collector (disabled in the snapshot until the libraries are back).

const MAGIC = "AMPHISNP";
export const SNAPSHOT_FORMAT = 1;

interface PackageInfo {
  version: string | null;
  sha256: string | null;
  channel: string;
}

/** `memory-snapshot.json`. */
interface Sidecar {
  format: number;
  file: string;
  pyodide: string;
  lock_sha256: string;
  packages: Record<string, PackageInfo>;
  /** Size of the uncompressed container in bytes. */
  raw_bytes: number;
}

interface Section {
  kind: "memory" | "dylib" | "file";
  path: string;
  offset: number;
  length: number;
}

interface Dylib {
  path: string;
  handle: number;
  memory_base: number;
  table_base: number;
  table_size: number;
  table_end: number;
}

interface Header {
  format: number;
  pyodide: string;
  /** Whether the runtime that made it had WebAssembly stack switching (JSPI). */
  jspi?: boolean;
  packages: Record<string, PackageInfo>;
  dylibs: Dylib[];
  sections: Section[];
}

/** A snapshot's container, parsed once its header is in (sections fill in as bytes arrive). */
export interface Container {
  header: Header;
  memory: Uint8Array;
  section(s: Section): Uint8Array;
}

/** A checked snapshot, downloading. */
export interface Snapshot {
  /** Resolves when the header is in; rejects when it is not a container or not ours. */
  opened: Promise<Container>;
  /** Resolves when every byte is in; rejects when the download fails or is cut short. */
  complete: Promise<void>;
}

/** An in-memory file system node (MEMFS): a directory's `contents` maps names to nodes. */
interface FSNode {
  contents?: unknown;
  usedBytes?: number;
  node_ops?: { mknod?(parent: FSNode, name: string, mode: number, dev: number): FSNode };
}

/** The parts of the Emscripten module restoring uses. */
interface EmscriptenModule {
  wasmTable: WebAssembly.Table;
  freeTableIndexes: number[];
  wasmTableMirror: unknown[];
  loadWebAssemblyModule(binary: Uint8Array, flags: Record<string, boolean>, libName: string, localScope: object): Record<string, unknown>;
  newDSO(name: string, handle: number, exports: unknown): unknown;
  mergeLibSymbols(exports: unknown, libName: string): void;
  /** The dynamic linker's global offset table (symbol name -> address or table index). */
  GOT?: Record<string, WebAssembly.Global>;
  FS: {
    mkdirTree(path: string): void;
    writeFile(path: string, data: Uint8Array, options?: { canOwn?: boolean }): void;
    lookupPath(path: string): { node: FSNode };
  };
}

export type CreateModule = (settings: Record<string, unknown>) => Promise<EmscriptenModule>;

/** The parts of the Pyodide API restoring uses. */
interface RestoredPyodide {
  loadedPackages: Record<string, string>;
  runPython(code: string): unknown;
}

// Renewed on every restore: the snapshot's values would be the same in every page.
const AFTER_RESTORE = `
import gc, importlib, sys
importlib.invalidate_caches()
if "random" in sys.modules:
    sys.modules["random"].seed()
if "logging" in sys.modules:
    import time
    sys.modules["logging"]._startTime = time.time()
if "tempfile" in sys.modules:
    sys.modules["tempfile"]._name_sequence = None
gc.enable()
`;

function note(message: string): void {
  console.warn(`amphikernel worker: ${message}; starting Python without the memory snapshot`);
}

async function sha256Hex(text: string): Promise<string | null> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  const digest = new Uint8Array(await subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function parseHeader(bytes: Uint8Array, filled: number): Container | null {
  if (new TextDecoder("latin1").decode(bytes.subarray(0, 8)) !== MAGIC) throw new Error("not an amphikernel memory snapshot");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(8, true) !== SNAPSHOT_FORMAT) throw new Error(`snapshot format ${view.getUint32(8, true)}`);
  const length = view.getUint32(12, true);
  if (filled < 16 + length) return null;
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length))) as Header;
  const start = Math.ceil((16 + length) / 16) * 16;
  const section = (s: Section) => bytes.subarray(start + s.offset, start + s.offset + s.length);
  const memory = header.sections.find((s) => s.kind === "memory");
  if (!memory) throw new Error("the snapshot has no memory image");
  return { header, memory: section(memory), section };
}

/**
 * Stream `body` (gzip, or already decompressed by the browser when the server sent it with
 * Content-Encoding: gzip) into a buffer of `size` bytes; `opened` resolves as soon as the
 * container's header is in.
 */
function streamContainer(body: ReadableStream<Uint8Array>, size: number): Snapshot {
  const bytes = new Uint8Array(size);
  let filled = 0;
  let open: { resolve(c: Container): void; reject(e: unknown): void } | null = null;
  const opened = new Promise<Container>((resolve, reject) => (open = { resolve, reject }));
  const check = () => {
    const waiting = open;
    if (!waiting || filled < 16) return;
    try {
      const container = parseHeader(bytes, filled);
      if (container) waiting.resolve(container), (open = null);
    } catch (error) {
      waiting.reject(error), (open = null);
    }
  };
  const complete = (async () => {
    const source = body.getReader();
    const first = await source.read();
    if (first.done) throw new Error("the memory snapshot is empty");
    const rest = new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(first.value),
      pull: async (controller) => {
        const next = await source.read();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      cancel: (reason) => source.cancel(reason),
    });
    const gzipped = first.value[0] === 0x1f && first.value[1] === 0x8b;
    const reader = (gzipped ? rest.pipeThrough(new DecompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>) : rest).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (filled + value.byteLength > size) {
        await reader.cancel();
        throw new Error("the memory snapshot is longer than its description says");
      }
      bytes.set(value, filled);
      filled += value.byteLength;
      check();
    }
    if (filled !== size) throw new Error(`the memory snapshot is truncated (${filled} of ${size} bytes)`);
  })();
  complete.catch((error: unknown) => {
    open?.reject(error);
    open = null;
  });
  opened.catch(() => {});
  return { opened, complete };
}

/**
 * Download the site's memory snapshot if it matches the runtime; null (with a console note
 * when one was there but is unusable) otherwise.
 *
 * @param indexURL the runtime folder (trailing slash).
 * @param version the runtime's Pyodide version (`pyodide.mjs`'s `version`), when known.
 */
export async function fetchSnapshot(indexURL: string, version: Promise<string | null>): Promise<Snapshot | null> {
  let sidecar: Sidecar;
  try {
    const response = await fetch(`${indexURL}memory-snapshot.json`);
    if (!response.ok) return null; // the site has none
    sidecar = (await response.json()) as Sidecar;
  } catch {
    return null;
  }
  try {
    if (sidecar.format !== SNAPSHOT_FORMAT) return note(`memory snapshot format ${sidecar.format} (this worker reads ${SNAPSHOT_FORMAT})`), null;
    const size = sidecar.raw_bytes;
    if (!Number.isSafeInteger(size) || size < 16) return note("the memory snapshot's description has no size"), null;
    // Downloading while the checks run; cancelled when one fails.
    const cancel = new AbortController();
    const download = fetch(new URL(sidecar.file, indexURL), { signal: cancel.signal }).then((r) => {
      if (!r.ok || !r.body) throw new Error(`${sidecar.file}: HTTP ${r.status}`);
      return r.body;
    });
    download.catch(() => {}); // awaited below, unless a check fails first
    const refuse = (why: string) => {
      cancel.abort();
      note(why);
      return null;
    };
    const lockText = await (await fetch(`${indexURL}pyodide-lock.json`)).text();
    const lock = JSON.parse(lockText) as { packages?: Record<string, { sha256?: string }> };
    for (const [name, info] of Object.entries(sidecar.packages)) {
      const current = lock.packages?.[name]?.sha256 ?? null;
      if (current !== info.sha256) return refuse(`the memory snapshot holds another ${name} than the site's lock`);
    }
    const lockHash = await sha256Hex(lockText);
    if (lockHash !== null && lockHash !== sidecar.lock_sha256) return refuse("the memory snapshot was made for another pyodide-lock.json");
    const runtimeVersion = await version;
    if (runtimeVersion !== null && runtimeVersion !== sidecar.pyodide) {
      return refuse(`the memory snapshot is of Pyodide ${sidecar.pyodide}, the runtime is ${runtimeVersion}`);
    }
    const snapshot = streamContainer(await download, size);
    const opened = snapshot.opened.then((c) => {
      if (c.header.pyodide !== sidecar.pyodide) throw new Error("the memory snapshot does not match its description");
      return c;
    });
    opened.catch(() => {});
    return { opened, complete: snapshot.complete };
  } catch (error) {
    note(`the memory snapshot could not be loaded (${error instanceof Error ? error.message : String(error)})`);
    return null;
  }
}

/**
 * Emscripten relocates a library's exported data addresses (the exports it returns, and the GOT
 * entries the library's own code reads them through) by the memory base *it* allocated, not by
 * the old one the instance was given: move them to the old base, where the restored memory has
 * that data (else msgspec finds its NoDefault/Unset objects at a stale address and the first
 * Struct with a field crashes the runtime).
 */
function relocateDataExports(module: EmscriptenModule, instance: WebAssembly.Instance | null, exports: Record<string, unknown>, lib: Dylib): void {
  if (!instance) throw new Error(`${lib.path} was not instantiated`);
  for (const [name, raw] of Object.entries(instance.exports)) {
    const moved = exports[name];
    if (!(raw instanceof WebAssembly.Global) || !(moved instanceof WebAssembly.Global) || moved === raw) continue;
    if (!module.GOT) throw new Error("the runtime does not expose its GOT");
    const fixed = new WebAssembly.Global({ value: "i32" }, (raw.value as number) + lib.memory_base);
    const got = module.GOT[name];
    if (got && got.value === moved.value) got.value = fixed.value;
    exports[name] = fixed;
  }
}

/** Load the snapshot's shared libraries where they were, before the memory is restored. */
function loadDylibs(module: EmscriptenModule, snapshot: Container): void {
  const bytes = new Map(snapshot.header.sections.filter((s) => s.kind === "dylib").map((s) => [s.path, snapshot.section(s)]));
  for (const lib of snapshot.header.dylibs) {
    const binary = bytes.get(lib.path);
    if (!binary) throw new Error(`the snapshot lacks ${lib.path}`);
    const table = module.wasmTable;
    // Entries the runtime's start-up added where the library was when the snapshot was made
    // (a browser's CPython call trampoline, which Node lacks: the restored memory does not use
    // it).  The library's functions overwrite them; the slots its loading grows past its own
    // go to the pointers it adds next, as they did when the snapshot was made.
    const extra = table.length - lib.table_base;
    if (extra < 0) table.grow(-extra);
    const ownEnd = lib.table_base + lib.table_size;
    for (let i = ownEnd + extra - 1; i >= ownEnd; i--) module.freeTableIndexes.push(i);
    // Instantiated at the memory and table base it had: its static data in the restored
    // memory is then where its code looks for it, its function pointers where they were.
    const Instance = WebAssembly.Instance;
    let instance: WebAssembly.Instance | null = null;
    const patched = function (module: WebAssembly.Module, imports: Record<string, Record<string, unknown>>) {
      const bases: Record<string | symbol, number> = { __memory_base: lib.memory_base, __table_base: lib.table_base };
      const env = new Proxy(imports.env, {
        get: (target, key, receiver) => (key in bases ? bases[key] : Reflect.get(target, key, receiver)),
      });
      return (instance = new Instance(module, { ...imports, env, wasi_snapshot_preview1: env } as WebAssembly.Imports));
    };
    (WebAssembly as { Instance: unknown }).Instance = patched;
    let exports: Record<string, unknown>;
    try {
      const flags = { loadAsync: false, global: true, nodelete: true, allowUndefined: true };
      exports = module.loadWebAssemblyModule(binary, flags, lib.path, {});
    } finally {
      (WebAssembly as { Instance: unknown }).Instance = Instance;
    }
    for (let i = lib.table_base; i < table.length; i++) module.wasmTableMirror[i] = undefined;
    for (let i = lib.table_base; i < lib.table_end; i++) {
      if (table.get(i) === null) throw new Error(`function table slot ${i} is empty after ${lib.path}`);
    }
    if (table.length < lib.table_end) throw new Error(`function table at ${table.length} after ${lib.path}, expected ${lib.table_end}`);
    relocateDataExports(module, instance, exports, lib);
    module.newDSO(lib.path, lib.handle, exports);
    module.mergeLibSymbols(exports, lib.path);
  }
}

/**
 * The loadPyodide options that restore `snapshot` (besides indexURL, stdout, ...).
 *
 * @param createModule the default export of the runtime's `pyodide.asm.mjs` (a promise: it
 *   may still be loading).
 * @param onRestored receives the Emscripten module and the container (for `finishRestore`).
 */
export function restoreOptions(
  snapshot: Snapshot,
  createModule: Promise<CreateModule>,
  onRestored: (m: EmscriptenModule, c: Container) => void,
): Record<string, unknown> {
  return {
    // Only its length is read before createPyodideModule returns.
    _loadSnapshot: snapshot.opened.then((c) => c.memory),
    createPyodideModule: async (settings: Record<string, unknown>) => {
      const container = await snapshot.opened;
      // Made where WebAssembly stack switching was missing (Node 20): the runtime must not see
      // it either (it would add a function table entry and take other paths than the memory
      // image expects).  Only the runtime's start-up looks.
      const names = container.header.jspi ? [] : ["Suspending", "Suspender", "promising"].filter((k) => k in WebAssembly);
      const saved = names.map((k) => [k, Object.getOwnPropertyDescriptor(WebAssembly, k)] as const);
      for (const k of names) delete (WebAssembly as unknown as Record<string, unknown>)[k];
      let module: EmscriptenModule;
      try {
        module = await (await createModule)(settings);
      } finally {
        for (const [k, d] of saved) if (d) Object.defineProperty(WebAssembly, k, d);
      }
      await snapshot.complete; // the memory image and the libraries are all in now
      loadDylibs(module, container);
      onRestored(module, container);
      return module;
    },
  };
}

/** After loadPyodide: files, loaded packages, fresh random state, garbage collector on. */
export function finishRestore(pyodide: RestoredPyodide, module: EmscriptenModule, container: Container): void {
  // Each file a new in-memory node of its directory owning its bytes (copied once, all
  // together, out of the container, which is then garbage); FS.writeFile per file (a path
  // lookup, a stream, permission checks) costs 5-10 times more.  A name already there, or a
  // directory that is not an in-memory one, goes through FS.writeFile.
  const files = container.header.sections.filter((s) => s.kind === "file");
  if (files.length) {
    const first = container.section(files[0]);
    const last = container.section(files[files.length - 1]);
    const own = first.buffer.slice(first.byteOffset, last.byteOffset + last.byteLength);
    const dirs = new Map<string, FSNode>();
    for (const s of files) {
      const slash = s.path.lastIndexOf("/");
      const dir = s.path.slice(0, slash);
      let node = dirs.get(dir);
      if (node === undefined) {
        module.FS.mkdirTree(dir);
        node = module.FS.lookupPath(dir).node;
        dirs.set(dir, node);
      }
      const bytes = new Uint8Array(own, container.section(s).byteOffset - first.byteOffset, s.length);
      const name = s.path.slice(slash + 1);
      const contents = node.contents;
      if (typeof node.node_ops?.mknod === "function" && contents && typeof contents === "object" && !(name in contents)) {
        const file = node.node_ops.mknod(node, name, 0o100644, 0);
        file.contents = bytes;
        file.usedBytes = bytes.length;
      } else {
        module.FS.writeFile(s.path, bytes, { canOwn: true });
      }
    }
  }
  for (const [name, info] of Object.entries(container.header.packages)) pyodide.loadedPackages[name] = info.channel;
  pyodide.runPython(AFTER_RESTORE);
}

/**
 * loadPyodide from the snapshot when there is a usable one, else (or when restoring fails,
 * after a console note) a normal boot.
 *
 * @param config loadPyodide's options (indexURL, stdout, stderr...).
 * @param snapshot `fetchSnapshot`'s result.
 * @param createModule the runtime's `pyodide.asm.mjs` default export (loading).
 */
export async function loadPyodideFast<P>(
  loadPyodide: (config: Record<string, unknown>) => Promise<P>,
  config: Record<string, unknown>,
  snapshot: Promise<Snapshot | null>,
  createModule: Promise<CreateModule>,
): Promise<{ pyodide: P; restored: boolean }> {
  const found = await snapshot;
  if (found) {
    try {
      const restored: { module?: EmscriptenModule; container?: Container } = {};
      const options = restoreOptions(found, createModule, (module, container) => Object.assign(restored, { module, container }));
      const pyodide = await loadPyodide({ ...config, ...options });
      const { module, container } = restored;
      if (!module || !container) throw new Error("the runtime was not created");
      finishRestore(pyodide as unknown as RestoredPyodide, module, container);
      console.info("amphikernel worker: Python restored from the memory snapshot");
      return { pyodide, restored: true };
    } catch (error) {
      note(`the memory snapshot could not be restored (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  return { pyodide: await loadPyodide(config), restored: false };
}
