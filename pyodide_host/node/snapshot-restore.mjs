// The steps of restoring an amphikernel memory snapshot that Node (./snapshot.mjs `boot`) and
// the page's worker (web/src/worker/memory-snapshot.ts, which bundles this file) share: the
// container's header, the shared libraries at their old bases, site-packages back into the file
// system, and the Python run after the restore.  Types: ./snapshot-restore.d.mts.
//
// Container (little-endian): "AMPHISNP", u32 format (SNAPSHOT_FORMAT), u32 header length, the
// header (UTF-8 JSON), zero padding to a multiple of 16, then the sections the header lists
// (`sections: [{kind: "memory" | "dylib" | "file", path, offset, length}]`, offsets from the
// start of the payload, each 16-aligned).  ./snapshot.mjs `make` writes it.

export const MAGIC = "AMPHISNP";
export const SNAPSHOT_FORMAT = 1;

/**
 * The container in `bytes` (of which the first `filled` are in): null while its header is not
 * all in, else {header, memory, section(s)} (`section` returns a view into `bytes`).  Throws
 * when it is not a container of this format or has no memory image.
 */
export function parseHeader(bytes, filled) {
  if (new TextDecoder("latin1").decode(bytes.subarray(0, 8)) !== MAGIC) throw new Error("not an amphikernel memory snapshot");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(8, true) !== SNAPSHOT_FORMAT) throw new Error(`snapshot format ${view.getUint32(8, true)}`);
  const length = view.getUint32(12, true);
  if (filled < 16 + length) return null;
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length)));
  const start = Math.ceil((16 + length) / 16) * 16;
  const section = (s) => bytes.subarray(start + s.offset, start + s.offset + s.length);
  const memory = header.sections.find((s) => s.kind === "memory");
  if (!memory) throw new Error("the snapshot has no memory image");
  return { header, memory: section(memory), section };
}

// Emscripten relocates a library's exported data addresses (the exports it returns, and the GOT
// entries the library's own code reads them through) by the memory base *it* allocated, not by
// the old one the instance was given: move them to the old base, where the restored memory has
// that data (else msgspec finds its NoDefault/Unset objects at a stale address and the first
// Struct with a field crashes the runtime).
function relocateDataExports(module, instance, exports, lib) {
  if (!instance) throw new Error(`${lib.path} was not instantiated`);
  for (const [name, raw] of Object.entries(instance.exports)) {
    const moved = exports[name];
    if (!(raw instanceof WebAssembly.Global) || !(moved instanceof WebAssembly.Global) || moved === raw) continue;
    if (!module.GOT) throw new Error("the runtime does not expose its GOT");
    const fixed = new WebAssembly.Global({ value: "i32" }, raw.value + lib.memory_base);
    const got = module.GOT[name];
    if (got && got.value === moved.value) got.value = fixed.value;
    exports[name] = fixed;
  }
}

/**
 * Load the snapshot's shared libraries where they were (memory and table base), before the
 * memory is restored (the WebAssembly table is not part of it).  Nothing may run between the
 * runtime's creation and this call: something else could take the libraries' table slots.
 */
export function loadDylibs(module, container) {
  const { header, section } = container;
  const bytes = new Map(header.sections.filter((s) => s.kind === "dylib").map((s) => [s.path, section(s)]));
  for (const lib of header.dylibs) {
    const shared = bytes.get(lib.path);
    if (!shared) throw new Error(`the snapshot lacks ${lib.path}`);
    // WebAssembly compiles no view of a SharedArrayBuffer: a copy then.
    const binary = typeof SharedArrayBuffer !== "undefined" && shared.buffer instanceof SharedArrayBuffer ? shared.slice() : shared;
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
    const bases = { __memory_base: lib.memory_base, __table_base: lib.table_base };
    const Instance = WebAssembly.Instance;
    let instance = null;
    WebAssembly.Instance = function (wasmModule, imports) {
      const env = new Proxy(imports.env, { get: (t, p, r) => (p in bases ? bases[p] : Reflect.get(t, p, r)) });
      return (instance = new Instance(wasmModule, { ...imports, env, wasi_snapshot_preview1: env }));
    };
    let exports;
    try {
      const flags = { loadAsync: false, global: true, nodelete: true, allowUndefined: true };
      exports = module.loadWebAssemblyModule(binary, flags, lib.path, {});
    } finally {
      WebAssembly.Instance = Instance;
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
 * site-packages back into the file system (it lives in JavaScript, not in the memory image):
 * each file a new in-memory node of its directory owning its bytes (copied once, all together,
 * out of the container, into a plain ArrayBuffer); FS.writeFile per file (a path lookup, a
 * stream, permission checks) costs 5-10 times more.  A name already there, or a directory that
 * is not an in-memory one, goes through FS.writeFile.
 */
export function writeFiles(FS, container) {
  const { header, section } = container;
  const files = header.sections.filter((s) => s.kind === "file");
  if (!files.length) return;
  const first = section(files[0]);
  const last = section(files[files.length - 1]);
  const own = new Uint8Array(last.byteOffset + last.byteLength - first.byteOffset);
  own.set(new Uint8Array(first.buffer, first.byteOffset, own.length));
  const dirs = new Map();
  for (const s of files) {
    const slash = s.path.lastIndexOf("/");
    const dir = s.path.slice(0, slash);
    let node = dirs.get(dir);
    if (node === undefined) {
      FS.mkdirTree(dir);
      node = FS.lookupPath(dir).node;
      dirs.set(dir, node);
    }
    const at = section(s).byteOffset - first.byteOffset;
    const bytes = own.subarray(at, at + s.length);
    const name = s.path.slice(slash + 1);
    const contents = node.contents;
    if (typeof node.node_ops?.mknod === "function" && contents && typeof contents === "object" && !(name in contents)) {
      const file = node.node_ops.mknod(node, name, 0o100644, 0);
      file.contents = bytes;
      file.usedBytes = bytes.length;
    } else {
      FS.writeFile(s.path, bytes, { canOwn: true });
    }
  }
}

/**
 * Until the returned function is called, `new WebAssembly.Module(bytes)` of a few dozen bytes
 * compiles each distinct byte string once.  Emscripten's `convertJsFunctionToWasm` wraps every
 * JavaScript function it puts in the function table in a module of its own whose bytes depend
 * only on the signature: the runtime's start-up compiles ~260 of them for ~30 signatures.  A
 * compiled module is immutable and instantiated afresh each time, so sharing it changes nothing
 * else.  Call the returned function to put the constructor back.
 */
export function shareSmallModules(limit = 128) {
  const Module = WebAssembly.Module;
  const compiled = new Map();
  function SharedModule(bytes, ...rest) {
    if (!new.target) return Reflect.apply(Module, this, [bytes, ...rest]); // throws as the original does
    if (!(bytes instanceof Uint8Array) || bytes.length > limit || rest.length) return new Module(bytes, ...rest);
    const key = String.fromCharCode.apply(null, bytes);
    let module = compiled.get(key);
    if (module === undefined) compiled.set(key, (module = new Module(bytes)));
    return module;
  }
  SharedModule.prototype = Module.prototype;
  for (const name of ["customSections", "imports", "exports"]) SharedModule[name] = Module[name];
  WebAssembly.Module = SharedModule;
  return () => {
    if (WebAssembly.Module === SharedModule) WebAssembly.Module = Module;
  };
}

/** Run after every restore: the snapshot's values would be the same in every page. */
export const AFTER_RESTORE = `
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

/**
 * After loadPyodide restored the memory: site-packages, the package manager's list of what is
 * loaded, fresh random state, garbage collector on (`AFTER_RESTORE`).
 */
export function finishRestore(pyodide, module, container) {
  writeFiles(module.FS, container);
  for (const [name, info] of Object.entries(container.header.packages)) pyodide.loadedPackages[name] = info.channel;
  pyodide.runPython(AFTER_RESTORE);
}
