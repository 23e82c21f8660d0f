// Booting the kernel's Pyodide from a memory snapshot (pyodide_host/build/snapshot.py makes it
// under Node at build time, with pyodide_host/node/snapshot.mjs, whose `boot` mode does the same
// steps as this file for Node).
//
// The site's pyodide/ folder may hold `memory-snapshot.json` (a sidecar: format, Pyodide
// version, the lock's SHA-256, the packages inside) and `memory-snapshot.bin.gz` (the
// container, gzip).  `fetchSnapshot` checks the sidecar against the runtime before downloading
// the container, decompresses it with DecompressionStream, and returns null (after a console
// note) when anything does not match or fails; the worker then boots normally.
// `restoreOptions` gives loadPyodide what it needs to restore: the memory image, and a
// `createPyodideModule` that instantiates the shared libraries of the snapshot at their old
// memory and table base *before* the memory is restored (the WebAssembly table is not part of
// the memory).  `finishRestore` writes site-packages back (the file system lives in
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

/** A downloaded, checked snapshot. */
export interface Snapshot {
  header: Header;
  memory: Uint8Array;
  section(s: Section): Uint8Array;
}

/** The parts of the Emscripten module restoring uses. */
interface EmscriptenModule {
  wasmTable: WebAssembly.Table;
  freeTableIndexes: number[];
  wasmTableMirror: unknown[];
  loadWebAssemblyModule(binary: Uint8Array, flags: Record<string, boolean>, libName: string, localScope: object): Record<string, unknown>;
  newDSO(name: string, handle: number, exports: unknown): unknown;
  mergeLibSymbols(exports: unknown, libName: string): void;
  FS: { mkdirTree(path: string): void; writeFile(path: string, data: Uint8Array): void };
}

type CreateModule = (settings: Record<string, unknown>) => Promise<EmscriptenModule>;

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

async function gunzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  // A server that sent it with Content-Encoding: gzip has decompressed it already.
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function parse(bytes: Uint8Array): Snapshot {
  if (new TextDecoder("latin1").decode(bytes.subarray(0, 8)) !== MAGIC) throw new Error("not an amphikernel memory snapshot");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(8, true) !== SNAPSHOT_FORMAT) throw new Error(`snapshot format ${view.getUint32(8, true)}`);
  const length = view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length))) as Header;
  const start = Math.ceil((16 + length) / 16) * 16;
  const section = (s: Section) => bytes.subarray(start + s.offset, start + s.offset + s.length);
  const memory = header.sections.find((s) => s.kind === "memory");
  if (!memory) throw new Error("the snapshot has no memory image");
  return { header, memory: section(memory), section };
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
    // Downloaded while the checks run; cancelled when one fails.
    const cancel = new AbortController();
    const download = fetch(new URL(sidecar.file, indexURL), { signal: cancel.signal }).then(async (r) => {
      if (!r.ok) throw new Error(`${sidecar.file}: HTTP ${r.status}`);
      return new Uint8Array(await r.arrayBuffer());
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
    const snapshot = parse(await gunzip((await download) as Uint8Array<ArrayBuffer>));
    if (snapshot.header.pyodide !== sidecar.pyodide) return note("the memory snapshot does not match its description"), null;
    return snapshot;
  } catch (error) {
    note(`the memory snapshot could not be loaded (${error instanceof Error ? error.message : String(error)})`);
    return null;
  }
}

/** Load the snapshot's shared libraries where they were, before the memory is restored. */
function loadDylibs(module: EmscriptenModule, snapshot: Snapshot): void {
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
    const patched = function (module: WebAssembly.Module, imports: Record<string, Record<string, unknown>>) {
      const bases: Record<string | symbol, number> = { __memory_base: lib.memory_base, __table_base: lib.table_base };
      const env = new Proxy(imports.env, {
        get: (target, key, receiver) => (key in bases ? bases[key] : Reflect.get(target, key, receiver)),
      });
      return new Instance(module, { ...imports, env, wasi_snapshot_preview1: env } as WebAssembly.Imports);
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
    module.newDSO(lib.path, lib.handle, exports);
    module.mergeLibSymbols(exports, lib.path);
  }
}

/**
 * The loadPyodide options that restore `snapshot` (besides indexURL, stdout, ...).
 *
 * @param createModule the default export of the runtime's `pyodide.asm.mjs`.
 * @param onModule receives the Emscripten module (for `finishRestore`).
 */
export function restoreOptions(snapshot: Snapshot, createModule: CreateModule, onModule: (m: EmscriptenModule) => void): Record<string, unknown> {
  return {
    _loadSnapshot: snapshot.memory,
    createPyodideModule: async (settings: Record<string, unknown>) => {
      // Made where WebAssembly stack switching was missing (Node 20): the runtime must not see
      // it either (it would add a function table entry and take other paths than the memory
      // image expects).  Only the runtime's start-up looks.
      const names = snapshot.header.jspi ? [] : ["Suspending", "Suspender", "promising"].filter((k) => k in WebAssembly);
      const saved = names.map((k) => [k, Object.getOwnPropertyDescriptor(WebAssembly, k)] as const);
      for (const k of names) delete (WebAssembly as unknown as Record<string, unknown>)[k];
      let module: EmscriptenModule;
      try {
        module = await createModule(settings);
      } finally {
        for (const [k, d] of saved) if (d) Object.defineProperty(WebAssembly, k, d);
      }
      loadDylibs(module, snapshot);
      onModule(module);
      return module;
    },
  };
}

/** After loadPyodide: files, loaded packages, fresh random state, garbage collector on. */
export function finishRestore(pyodide: RestoredPyodide, module: EmscriptenModule, snapshot: Snapshot): void {
  for (const s of snapshot.header.sections) {
    if (s.kind !== "file") continue;
    module.FS.mkdirTree(s.path.slice(0, s.path.lastIndexOf("/")));
    module.FS.writeFile(s.path, snapshot.section(s));
  }
  for (const [name, info] of Object.entries(snapshot.header.packages)) pyodide.loadedPackages[name] = info.channel;
  pyodide.runPython(AFTER_RESTORE);
}

/**
 * loadPyodide from the snapshot when there is a usable one, else (or when restoring fails,
 * after a console note) a normal boot.
 *
 * @param config loadPyodide's options (indexURL, stdout, stderr...).
 * @param snapshot `fetchSnapshot`'s result.
 * @param createModule loads the runtime's `pyodide.asm.mjs` default export.
 */
export async function loadPyodideFast<P>(
  loadPyodide: (config: Record<string, unknown>) => Promise<P>,
  config: Record<string, unknown>,
  snapshot: Promise<Snapshot | null>,
  createModule: () => Promise<CreateModule>,
): Promise<{ pyodide: P; restored: boolean }> {
  const found = await snapshot;
  if (found) {
    try {
      let module: EmscriptenModule | null = null;
      const options = restoreOptions(found, await createModule(), (m) => (module = m));
      const pyodide = await loadPyodide({ ...config, ...options });
      if (module === null) throw new Error("the runtime was not created");
      finishRestore(pyodide as unknown as RestoredPyodide, module, found);
      console.info("amphikernel worker: Python restored from the memory snapshot");
      return { pyodide, restored: true };
    } catch (error) {
      note(`the memory snapshot could not be restored (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  return { pyodide: await loadPyodide(config), restored: false };
}
