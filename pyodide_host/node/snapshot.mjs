// Pyodide memory snapshots for static sites (`amphi export html-wasm`, islands):
// pyodide_host/build/snapshot.py runs this under Node at build time.
//
//   node snapshot.mjs make --dist DIR --out FILE [--packages a,b] [--imports m,n] [--discover]
//                          [--hash-seed N]
//       Boot Pyodide from DIR (a site's pyodide/ folder: runtime, lock, wheels) with
//       `_makeSnapshot`, load the lock packages (default: amphikernel, with msgspec), import
//       pyodide_host.session, the modules a kernel imports when it starts and runs a cell
//       (--discover: found by a first, ordinary boot in this process that does exactly that)
//       and the modules named by --imports (failures are reported and skipped), then write
//       the snapshot CONTAINER (uncompressed; layout below) to FILE.  Prints one JSON line.
//   node snapshot.mjs boot --dist DIR [--snapshot FILE] [--code SRC]
//       Restore FILE (raw or gzip) the way the page's worker does, or boot normally without
//       --snapshot; create a kernel session, run SRC in one cell and print one JSON line with
//       milliseconds since this process started (`restored_ms`, `ready_ms`, `first_run_ms`).
//
// Container (little-endian): "AMPHISNP", u32 version (1), u32 header length, the header
// (UTF-8 JSON), zero padding to a multiple of 16, then the sections the header lists
// (`sections: [{kind: "memory" | "dylib" | "file", path, offset, length}]`, offsets from the
// start of the payload, each 16-aligned).  `memory` is `pyodide.makeMemorySnapshot()`; each
// `dylib` a shared library loaded before the snapshot (re-instantiated at its old memory and
// table base before the memory is restored); each `file` one file of site-packages (the FS
// lives in JavaScript, not in the snapshot).  The header also carries `pyodide` (version),
// `packages` (lock name -> {version, sha256, channel}), `dylibs` (path, handle, memory_base,
// table_base, table_end), `table_length`, `modules`, `skipped`.
//
// What is never captured: no open file descriptors beyond 0-2 (checked), no event loop or
// kernel (only imports run), the garbage collector is disabled before the snapshot (a
// collection before the libraries are back would call into missing code) and enabled again by
// the restorer, PYTHONHASHSEED is fixed (deterministic bytes) and removed from os.environ.
// The restorer reseeds `random` (the module's state would otherwise be the same in every
// page), and os.urandom keeps working (it calls crypto.getRandomValues at each call).

import fs from "node:fs";
import path from "node:path";
import { createGunzip } from "node:zlib";
import { pathToFileURL } from "node:url";

const MAGIC = "AMPHISNP";
const FORMAT = 1;
const SITE = "/lib/python3.14/site-packages";

function parseArgs(argv) {
  const opts = { mode: argv[0], dist: null, out: null, snapshot: null, packages: ["amphikernel"], imports: [], discover: false, hashSeed: "0", code: "x = 1\nx" };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--dist") opts.dist = next();
    else if (a === "--out") opts.out = next();
    else if (a === "--snapshot") opts.snapshot = next();
    else if (a === "--packages") opts.packages = next().split(",").filter(Boolean);
    else if (a === "--imports") opts.imports = next().split(",").filter(Boolean);
    else if (a === "--discover") opts.discover = true;
    else if (a === "--hash-seed") opts.hashSeed = next();
    else if (a === "--code") opts.code = next();
    else throw new Error(`unknown option ${a}`);
  }
  if (!["make", "boot"].includes(opts.mode)) throw new Error("usage: snapshot.mjs make|boot --dist DIR ...");
  if (!opts.dist) throw new Error("--dist DIR is required");
  if (opts.mode === "make" && !opts.out) throw new Error("--out FILE is required");
  return opts;
}

const err = (line) => process.stderr.write(line + "\n");
const quiet = { messageCallback: () => {}, errorCallback: err };

async function runtime(dist) {
  const indexURL = path.resolve(dist) + path.sep;
  const { loadPyodide, version } = await import(pathToFileURL(path.join(indexURL, "pyodide.mjs")).href);
  const createModule = (await import(pathToFileURL(path.join(indexURL, "pyodide.asm.mjs")).href)).default;
  return { indexURL, loadPyodide, version, createModule };
}

// ------------------------------------------------------------------------------ making


// Modules a kernel imports when it starts and runs one cell, found by a plain boot.
async function discover(rt, packages) {
  const pyodide = await rt.loadPyodide({ indexURL: rt.indexURL, packageCacheDir: rt.indexURL, stdout: err, stderr: err });
  await pyodide.loadPackage(packages, quiet);
  const before = new Set(pyodide.runPython("import sys; list(sys.modules)").toJs());
  let done = null;
  const finished = new Promise((resolve) => (done = resolve));
  const marker = Buffer.from("completed-run");
  const send = (frame) => {
    if (Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).indexOf(marker) >= 0) done();
  };
  const session = pyodide.pyimport("pyodide_host.session").create_session(send);
  const frame = pyodide.runPython(
    "from lifecycle import protocol\nprotocol.encode(protocol.ExecuteCells(cell_ids=['a'], codes=['x = 1\\nprint(x)\\nx'], order=['a']))",
  );
  session.handle_frame(frame.toJs());
  await Promise.race([finished, new Promise((_, reject) => setTimeout(() => reject(new Error("discovery run timed out")), 120000))]);
  const after = pyodide.runPython("import sys; list(sys.modules)").toJs();
  return after.filter((name) => !before.has(name));
}

const PRELUDE = `
import gc, importlib, json, os, sys
def _amphi_snapshot_imports(names):
    done, skipped = [], {}
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
            done.append(name)
        except BaseException as exc:  # a module that cannot be imported here is left out
            skipped[name] = f"{type(exc).__name__}: {exc}"[:300]
    return json.dumps({"imported": done, "skipped": skipped})
`;

const FINISH = `
import gc, os, sys
os.environ.pop("PYTHONHASHSEED", None)
# Same bytes for the same site: state seeded from os.urandom or the clock at import time gets
# fixed values here and fresh ones on restore.
if "random" in sys.modules:
    sys.modules["random"].seed(0)
if "logging" in sys.modules:
    sys.modules["logging"]._startTime = 0.0
_names = getattr(sys.modules.get("tempfile"), "_name_sequence", None)
if _names is not None and "_rng" in vars(_names):  # dropped on restore (a fresh one on use)
    _names._rng.seed(0)
for _name in ("_amphi_snapshot_imports", "_names"):
    globals().pop(_name, None)
gc.collect()
gc.disable()
`;

// Bytecode of a module already imported is left out (its code is in the memory image; a
// re-import would compile the source, which stays): the snapshot gets smaller.
function importedBytecode(file, imported) {
  const match = /^(.*)\/__pycache__\/([^/.]+)\.cpython-\d+\.pyc$/.exec(file.slice(SITE.length + 1));
  if (!match) return false;
  const parts = match[1].split("/");
  if (match[2] !== "__init__") parts.push(match[2]);
  return imported.has(parts.join("."));
}

function sitePackagesFiles(FS, imported) {
  const files = [];
  const walk = (dir) => {
    for (const name of FS.readdir(dir).sort()) {
      if (name === "." || name === "..") continue;
      const full = `${dir}/${name}`;
      const stat = FS.stat(full);
      if (FS.isDir(stat.mode)) walk(full);
      else if (FS.isFile(stat.mode) && !importedBytecode(full, imported)) files.push(full);
    }
  };
  walk(SITE);
  return files;
}

async function make(opts) {
  const rt = await runtime(opts.dist);
  const lock = JSON.parse(fs.readFileSync(path.join(rt.indexURL, "pyodide-lock.json"), "utf8"));
  const discovered = opts.discover ? await discover(rt, opts.packages) : [];
  let Module = null;
  const pyodide = await rt.loadPyodide({
    indexURL: rt.indexURL,
    packageCacheDir: rt.indexURL,
    stdout: err,
    stderr: err,
    env: { PYTHONHASHSEED: String(opts.hashSeed) },
    _makeSnapshot: true,
    createPyodideModule: async (settings) => (Module = await rt.createModule(settings)),
  });
  await pyodide.loadPackage(opts.packages, quiet);
  pyodide.runPython(PRELUDE);
  const importer = pyodide.globals.get("_amphi_snapshot_imports");
  const wanted = ["pyodide_host.session", ...discovered, ...opts.imports];
  const result = JSON.parse(importer(pyodide.toPy(wanted)));
  importer.destroy();
  pyodide.runPython(FINISH);
  const modules = pyodide.runPython("import sys, json; json.dumps(sorted(sys.modules))");
  const openFds = Module.FS.streams.map((s, fd) => (s ? fd : -1)).filter((fd) => fd > 2);
  if (openFds.length) throw new Error(`open file descriptors ${openFds.join(", ")} at snapshot time`);

  const dylibs = [];
  for (const [h, dso] of Object.entries(Module.LDSO.loadedLibsByHandle)) {
    const handle = Number(h);
    if (!handle) continue;
    dylibs.push({
      path: dso.name,
      handle,
      memory_base: Module.HEAPU32[(handle + 12) >>> 2],
      memory_size: Module.HEAP32[(handle + 16) >>> 2],
      table_base: Module.HEAPU32[(handle + 20) >>> 2],
      table_size: Module.HEAP32[(handle + 24) >>> 2],
    });
  }
  dylibs.sort((a, b) => a.table_base - b.table_base);
  for (let i = 0; i < dylibs.length; i++) {
    // Where the table stood after this library (and the function pointers its loading added).
    dylibs[i].table_end = i + 1 < dylibs.length ? dylibs[i + 1].table_base : Module.wasmTable.length;
  }
  const packages = {};
  for (const [name, channel] of Object.entries(pyodide.loadedPackages)) {
    const entry = lock.packages?.[name] ?? {};
    packages[name] = { version: entry.version ?? null, sha256: entry.sha256 ?? null, channel };
    delete pyodide.loadedPackages[name]; // a JS object Python holds: must be as after a bare boot
  }
  const files = sitePackagesFiles(Module.FS, new Set(JSON.parse(modules)));
  const memory = pyodide.makeMemorySnapshot();

  const sections = [];
  const blobs = [];
  let offset = 0;
  const add = (kind, p, bytes) => {
    sections.push({ kind, path: p, offset, length: bytes.byteLength });
    blobs.push([offset, bytes]);
    offset += Math.ceil(bytes.byteLength / 16) * 16;
  };
  add("memory", "", memory);
  for (const d of dylibs) add("dylib", d.path, Module.FS.readFile(d.path));
  for (const f of files) add("file", f, Module.FS.readFile(f));
  const header = {
    format: FORMAT,
    pyodide: rt.version,
    python: pyodide.runPython("import sys; sys.version.split()[0]"),
    lock_info: lock.info ?? {},
    packages,
    dylibs,
    table_length: Module.wasmTable.length,
    // Whether this runtime had WebAssembly stack switching: a restorer hides it from a
    // runtime that has it when the snapshot was made without (its table and state differ).
    jspi: Boolean(Module.jspiSupported),
    modules: JSON.parse(modules),
    imported: result.imported,
    skipped: result.skipped,
    sections,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), "utf8");
  const start = Math.ceil((16 + headerBytes.length) / 16) * 16;
  const out = Buffer.alloc(start + offset);
  out.write(MAGIC, 0, "latin1");
  out.writeUInt32LE(FORMAT, 8);
  out.writeUInt32LE(headerBytes.length, 12);
  headerBytes.copy(out, 16);
  for (const [at, bytes] of blobs) out.set(bytes, start + at);
  fs.writeFileSync(opts.out, out);
  process.stdout.write(
    JSON.stringify({
      bytes: out.length,
      memory: memory.byteLength,
      dylibs: dylibs.length,
      files: files.length,
      modules: header.modules.length,
      imported: result.imported.length,
      skipped: result.skipped,
      packages: Object.keys(packages),
    }) + "\n",
  );
  process.exit(0);
}

// ----------------------------------------------------------------------------- booting

// The container, decompressed as it is read (zlib works on the thread pool meanwhile) into one
// buffer of its final size, so loadPyodide starts at once: it gets the memory section as soon as
// the header is in (only its length is read before `createPyodideModule` returns), and
// `createPyodideModule` waits for the rest after the runtime is compiled and instantiated.
function openContainer(file) {
  const compressed = fs.readFileSync(file);
  const gzipped = compressed[0] === 0x1f && compressed[1] === 0x8b;
  // A gzip member ends with its uncompressed size (mod 2**32; a container is far smaller).
  const size = gzipped ? compressed.readUInt32LE(compressed.length - 4) : compressed.length;
  if (size < 16 || size > 2 ** 31) throw new Error(`not an amphikernel snapshot (${size} bytes uncompressed)`);
  const bytes = gzipped ? new Uint8Array(size) : new Uint8Array(compressed.buffer, compressed.byteOffset, size);
  let filled = gzipped ? 0 : size;
  let headerWaiter = null;
  const parseHeader = () => {
    if (Buffer.from(bytes.subarray(0, 8)).toString("latin1") !== MAGIC) throw new Error("not an amphikernel snapshot");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const length = view.getUint32(12, true);
    if (filled < 16 + length) return null;
    const header = JSON.parse(Buffer.from(bytes.subarray(16, 16 + length)).toString("utf8"));
    const start = Math.ceil((16 + length) / 16) * 16;
    return { header, section: (s) => bytes.subarray(start + s.offset, start + s.offset + s.length) };
  };
  const header = new Promise((resolve, reject) => (headerWaiter = { resolve, reject }));
  const complete = new Promise((resolve, reject) => {
    const check = () => {
      if (!headerWaiter || filled < 16) return;
      try {
        const parsed = parseHeader();
        if (parsed) headerWaiter.resolve(parsed), (headerWaiter = null);
      } catch (error) {
        headerWaiter.reject(error), (headerWaiter = null);
      }
    };
    if (!gzipped) {
      check();
      resolve();
      return;
    }
    const gunzip = createGunzip({ chunkSize: 1 << 20 });
    gunzip.on("data", (chunk) => {
      if (filled + chunk.length > size) return gunzip.destroy(new Error("the snapshot is longer than its gzip trailer says"));
      bytes.set(chunk, filled);
      filled += chunk.length;
      check();
    });
    gunzip.on("error", reject);
    gunzip.on("end", () => (filled === size ? resolve() : reject(new Error("the snapshot is truncated"))));
    gunzip.end(compressed);
  });
  complete.catch((error) => headerWaiter?.reject(error));
  header.catch(() => {});
  return { header, complete };
}

// Emscripten relocates a library's exported data addresses (the exports it returns, and the GOT
// entries the library's own code reads them through) by the memory base *it* allocated, not by
// the old one the instance was given: move them to the old base, where the restored memory has
// that data (else msgspec finds its NoDefault/Unset objects at a stale address and the first
// Struct with a field crashes the runtime).  The same steps as in memory-snapshot.ts.
function relocateDataExports(Module, instance, exports, lib) {
  if (!instance) throw new Error(`${lib.path} was not instantiated`);
  for (const [name, raw] of Object.entries(instance.exports)) {
    const moved = exports[name];
    if (!(raw instanceof WebAssembly.Global) || !(moved instanceof WebAssembly.Global) || moved === raw) continue;
    if (!Module.GOT) throw new Error("the runtime does not expose its GOT");
    const fixed = new WebAssembly.Global({ value: "i32" }, raw.value + lib.memory_base);
    const got = Module.GOT[name];
    if (got && got.value === moved.value) got.value = fixed.value;
    exports[name] = fixed;
  }
}

// Load the snapshot's shared libraries at their old memory and table base (before the memory is
// restored: the function table is not part of it).  The same steps as loadDylibs in
// web/src/worker/memory-snapshot.ts.
function loadDylibs(Module, header, section) {
  const dylibBytes = new Map(header.sections.filter((s) => s.kind === "dylib").map((s) => [s.path, section(s)]));
  for (const lib of header.dylibs) {
    const table = Module.wasmTable;
    const extra = table.length - lib.table_base;
    if (extra < 0) table.grow(-extra);
    const ownEnd = lib.table_base + lib.table_size;
    for (let i = ownEnd + extra - 1; i >= ownEnd; i--) Module.freeTableIndexes.push(i);
    const bases = { __memory_base: lib.memory_base, __table_base: lib.table_base };
    const Instance = WebAssembly.Instance;
    let instance = null;
    WebAssembly.Instance = function (module, imports) {
      const env = new Proxy(imports.env, { get: (t, p, r) => (p in bases ? bases[p] : Reflect.get(t, p, r)) });
      return (instance = new Instance(module, { ...imports, env, wasi_snapshot_preview1: env }));
    };
    let exports;
    try {
      const flags = { loadAsync: false, global: true, nodelete: true, allowUndefined: true };
      exports = Module.loadWebAssemblyModule(dylibBytes.get(lib.path), flags, lib.path, {});
    } finally {
      WebAssembly.Instance = Instance;
    }
    for (let i = lib.table_base; i < table.length; i++) Module.wasmTableMirror[i] = undefined;
    for (let i = lib.table_base; i < lib.table_end; i++) {
      if (table.get(i) === null) throw new Error(`function table slot ${i} is empty after ${lib.path}`);
    }
    if (table.length < lib.table_end) throw new Error(`function table at ${table.length}, expected ${lib.table_end}`);
    relocateDataExports(Module, instance, exports, lib);
    Module.newDSO(lib.path, lib.handle, exports);
    Module.mergeLibSymbols(exports, lib.path);
  }
}

// site-packages back into the file system, as finishRestore in web/src/worker/memory-snapshot.ts
// does: each file a new in-memory node of its directory owning its bytes (copied once, all
// together, out of the container); FS.writeFile per file (a path lookup, a stream, permission
// checks) costs 5-10 times more here.  A name already there, or a directory that is not an
// in-memory one, goes through FS.writeFile.
function writeFiles(FS, header, section) {
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

// The same steps as web/src/worker/memory-snapshot.ts, for Node.
async function restore(rt, container) {
  let Module = null;
  let parsed = null;
  const memory = container.header.then((c) => {
    if (c.header.pyodide !== rt.version) throw new Error(`snapshot of Pyodide ${c.header.pyodide}, runtime ${rt.version}`);
    parsed = c;
    return c.section(c.header.sections.find((s) => s.kind === "memory"));
  });
  const createPyodideModule = async (settings) => {
    const hidden = parsed.header.jspi ? [] : ["Suspending", "Suspender", "promising"].filter((k) => k in WebAssembly);
    const saved = hidden.map((k) => [k, Object.getOwnPropertyDescriptor(WebAssembly, k)]);
    for (const k of hidden) delete WebAssembly[k];
    // Every byte in before the runtime is created: nothing may run between its creation and
    // the libraries' loading (an await there let restored runtimes call a null function
    // pointer: something else took the library's function table slots meanwhile).
    await container.complete;
    phase("container_complete");
    try {
      Module = await rt.createModule(settings);
    } finally {
      for (const [k, d] of saved) Object.defineProperty(WebAssembly, k, d);
    }
    phase("runtime_instantiated");
    loadDylibs(Module, parsed.header, parsed.section);
    phase("dylibs");
    return Module;
  };
  const pyodide = await rt.loadPyodide({
    indexURL: rt.indexURL,
    packageCacheDir: rt.indexURL,
    stdout: err,
    stderr: err,
    _loadSnapshot: memory,
    createPyodideModule,
  });
  phase("loadPyodide");
  writeFiles(Module.FS, parsed.header, parsed.section);
  phase("files");
  for (const [name, info] of Object.entries(parsed.header.packages)) pyodide.loadedPackages[name] = info.channel;
  pyodide.runPython(AFTER_RESTORE);
  phase("after_restore");
  return pyodide;
}

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

// Where the time goes (`boot` prints them): milliseconds since this process started, per step.
const phases = {};
const phase = (name) => (phases[name] = Math.round(performance.now() * 10) / 10);

async function boot(opts) {
  phase("script");
  const rt = await runtime(opts.dist);
  phase("runtime_imported");
  let pyodide = null;
  let fallback = null;
  if (opts.snapshot) {
    try {
      pyodide = await restore(rt, openContainer(opts.snapshot));
    } catch (error) {
      // As the page's worker does: a console note, then a normal boot.
      fallback = error && error.message ? error.message : String(error);
      err(`snapshot.mjs: the memory snapshot could not be restored (${fallback}); booting without it`);
    }
  }
  pyodide ??= await rt.loadPyodide({ indexURL: rt.indexURL, packageCacheDir: rt.indexURL, stdout: err, stderr: err });
  const restored = performance.now();
  await pyodide.loadPackage(["amphikernel"], quiet);
  let ready = null;
  let done = null;
  const finished = new Promise((resolve) => (done = resolve));
  const outputs = [];
  const kernelReady = Buffer.from("kernel-ready");
  const completed = Buffer.from("completed-run");
  const send = (frame) => {
    const bytes = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    outputs.push(Buffer.from(bytes).toString("latin1"));
    if (ready === null && bytes.indexOf(kernelReady) >= 0) ready = performance.now();
    if (bytes.indexOf(completed) >= 0) done();
  };
  phase("packages");
  const sessionModule = pyodide.pyimport("pyodide_host.session");
  const session = sessionModule.create_session(send);
  phase("session_created");
  // Encoded by Python (a compile the page, which encodes in JavaScript, does not pay).
  const encode = pyodide.runPython(
    "from lifecycle import protocol\nlambda code: protocol.encode(protocol.ExecuteCells(cell_ids=['a'], codes=[code], order=['a']))",
  );
  session.handle_frame(encode(opts.code).toJs());
  await Promise.race([finished, new Promise((_, reject) => setTimeout(() => reject(new Error("the run timed out")), 120000))]);
  const firstRun = performance.now();
  phase("first_run");
  process.stdout.write(
    JSON.stringify({ snapshot: Boolean(opts.snapshot) && fallback === null, fallback, restored_ms: restored, ready_ms: ready, first_run_ms: firstRun, phases, frames: outputs }) + "\n",
  );
  process.exit(0);
}

const opts = parseArgs(process.argv.slice(2));
(opts.mode === "make" ? make(opts) : boot(opts)).catch((error) => {
  err(`snapshot.mjs: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
