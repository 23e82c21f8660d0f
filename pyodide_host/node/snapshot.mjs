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
//       milliseconds since this process started (`restored_ms`, `ready_ms`, `first_run_ms`,
//       `phases`) and `cached` (the container came decompressed from the cache: see
//       ./snapshot-container.mjs; a boot that decompressed writes it there after printing).
//
// Container (little-endian; read by ./snapshot-restore.mjs, which the page's worker shares):
// "AMPHISNP", u32 version (1), u32 header length, the header
// (UTF-8 JSON), zero padding to a multiple of 16, then the sections the header lists
// (`sections: [{kind: "memory" | "dylib" | "file", path, offset, length}]`, offsets from the
// start of the payload, each 16-aligned; written in the order dylibs, memory, files, read in
// any order).  `memory` is `pyodide.makeMemorySnapshot()`; each
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
import { pathToFileURL } from "node:url";
import { openContainer, readWhole } from "./snapshot-container.mjs";
import { AFTER_RESTORE, MAGIC, SNAPSHOT_FORMAT as FORMAT, loadDylibs, shareSmallModules, writeFiles } from "./snapshot-restore.mjs";

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

// The runtime's wasm, read and compiled (on V8's background threads) from the moment it is asked
// for: `boot` asks before it imports the runtime's JavaScript and while the snapshot is being
// decompressed, so neither waits for the other.
function compileRuntimeWasm(dist) {
  const compiled = readWhole(path.join(path.resolve(dist), "pyodide.asm.wasm")).then((bytes) => {
    phase("wasm_read");
    return WebAssembly.compile(bytes).then((module) => (phase("wasm_compiled"), { module, size: bytes.byteLength }));
  });
  compiled.catch(() => {}); // awaited (or unused) later
  return compiled;
}

const instantiateWasm = WebAssembly.instantiate;

// Emscripten settings whose wasm instantiation waits for `ready` (a promise) and takes
// `compiled` (a promise of {module, size}, or null) instead of compiling the bytes Pyodide read.
// Pyodide's own instantiateWasm hook still runs (it adds imports of its own); only its
// `WebAssembly.instantiate(bytes, imports)` call, the first one it makes, is changed, and only
// when the bytes have the compiled file's size (the caller puts WebAssembly.instantiate back
// once the runtime is created, whatever happened).  Null when Pyodide has no such hook (the
// caller then waits for `ready` itself).  When `ready` rejects the instantiation never finishes
// (the caller gives up on the runtime; Pyodide's hook would only log the error and leave
// createModule pending too).
function withCompiledWasm(settings, compiled, ready) {
  const pyodideHook = settings.instantiateWasm;
  if (typeof pyodideHook !== "function") return null;
  settings.instantiateWasm = (imports, receive) => {
    WebAssembly.instantiate = async function (source, moreImports) {
      WebAssembly.instantiate = instantiateWasm;
      if (!(source instanceof ArrayBuffer || ArrayBuffer.isView(source))) return instantiateWasm.call(this, source, moreImports);
      const found = compiled ? await compiled.catch(() => null) : null;
      await ready.catch(() => new Promise(() => {}));
      if (!found || found.size !== source.byteLength) return instantiateWasm(source, moreImports);
      return { module: found.module, instance: await instantiateWasm(found.module, moreImports) };
    };
    return pyodideHook(imports, receive);
  };
  return settings;
}

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
# msgspec builds a decoder's type information on its first decode (~30 ms here for the
# command union): done now, it is in the image instead of in the first run of every page.
_protocol = sys.modules.get("lifecycle.protocol")
if _protocol is not None:
    _protocol.decode_command(_protocol.encode(_protocol.ExecuteCells(cell_ids=["a"], codes=["1"], order=["a"])))
for _name in ("_amphi_snapshot_imports", "_names", "_protocol"):
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
  // The shared libraries first: a restorer instantiates the runtime and loads them while the
  // memory image after them is still being decompressed.
  for (const d of dylibs) add("dylib", d.path, Module.FS.readFile(d.path));
  add("memory", "", memory);
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

// The same steps as web/src/worker/memory-snapshot.ts, for Node.
async function restore(rt, container, compiled) {
  let Module = null;
  let parsed = null;
  const memory = container.header.then((c) => {
    if (c.header.pyodide !== rt.version) throw new Error(`snapshot of Pyodide ${c.header.pyodide}, runtime ${rt.version}`);
    parsed = c;
    return c.memory;
  });
  const createPyodideModule = async (settings) => {
    const hidden = parsed.header.jspi ? [] : ["Suspending", "Suspender", "promising"].filter((k) => k in WebAssembly);
    const saved = hidden.map((k) => [k, Object.getOwnPropertyDescriptor(WebAssembly, k)]);
    for (const k of hidden) delete WebAssembly[k];
    // The shared libraries' bytes in (they come first) before the runtime is instantiated
    // (awaited in its wasm instantiation: the runtime's JavaScript set-up, the wasm compile and
    // the instantiation overlap the rest of the gunzip): nothing may run between the runtime's
    // creation and the libraries' loading (an await there let restored runtimes call a null
    // function pointer: something else took the library's function table slots meanwhile).
    // The memory image must be all in before this returns (loadPyodide restores it next).
    const ready = container.dylibs.then(() => phase("dylibs_in"));
    const failed = new Promise((_, reject) => ready.catch(reject));
    const unshare = shareSmallModules();
    try {
      const hooked = withCompiledWasm(settings, compiled, ready);
      if (!hooked) await ready;
      Module = await Promise.race([rt.createModule(hooked ?? settings), failed]);
      phase("runtime_instantiated");
      loadDylibs(Module, parsed);
    } finally {
      unshare();
      WebAssembly.instantiate = instantiateWasm;
      for (const [k, d] of saved) Object.defineProperty(WebAssembly, k, d);
    }
    phase("dylibs");
    await container.complete;
    phase("container_complete");
    return Module;
  };
  const pyodide = await rt.loadPyodide({
    indexURL: rt.indexURL,
    packageCacheDir: rt.indexURL,
    stdout: err,
    stderr: err,
    // Nothing here reads stdin (a kernel's input() goes through its session): Pyodide's
    // default would open process.stdin, a stream set-up the boot need not wait for.
    stdin: () => null,
    _loadSnapshot: memory,
    createPyodideModule,
  });
  phase("loadPyodide");
  writeFiles(Module.FS, parsed);
  phase("files");
  for (const [name, info] of Object.entries(parsed.header.packages)) pyodide.loadedPackages[name] = info.channel;
  pyodide.runPython(AFTER_RESTORE);
  phase("after_restore");
  return pyodide;
}

// Where the time goes (`boot` prints them): milliseconds since this process started, per step.
const phases = {};
const phase = (name) => (phases[name] = Math.round(performance.now() * 10) / 10);

async function boot(opts) {
  phase("script");
  // Started before the runtime's JavaScript is imported: the snapshot's gunzip and the wasm
  // compile run on the thread pool meanwhile.
  let container = null;
  let openError = null;
  if (opts.snapshot) {
    try {
      container = openContainer(opts.snapshot);
      container.complete.catch(() => {}); // awaited by restore
    } catch (error) {
      openError = error;
    }
  }
  const compiled = container ? compileRuntimeWasm(opts.dist) : null;
  const rt = await runtime(opts.dist);
  phase("runtime_imported");
  let pyodide = null;
  let fallback = null;
  if (opts.snapshot) {
    try {
      if (openError) throw openError;
      pyodide = await restore(rt, container, compiled);
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
  // Encoded by Python, called from here (no runPython: its parse and compile of a source
  // string are work the page, which encodes in JavaScript, does not do).
  const protocol = pyodide.pyimport("lifecycle.protocol");
  const list = (item) => pyodide.toPy([item]);
  const command = protocol.ExecuteCells.callKwargs({ cell_ids: list("a"), codes: list(opts.code), order: list("a") });
  session.handle_frame(protocol.encode(command).toJs());
  await Promise.race([finished, new Promise((_, reject) => setTimeout(() => reject(new Error("the run timed out")), 120000))]);
  const firstRun = performance.now();
  phase("first_run");
  // A plain write: process.stdout would set up a stream first.
  fs.writeSync(
    1,
    JSON.stringify({
      snapshot: Boolean(opts.snapshot) && fallback === null,
      fallback,
      cached: Boolean(container?.cached),
      restored_ms: restored,
      ready_ms: ready,
      first_run_ms: firstRun,
      phases,
      frames: outputs,
    }) + "\n",
  );
  // After the answer: the decompressed container into the cache for the next boot.
  if (container && fallback === null) await container.saveToCache();
  process.exit(0);
}

const opts = parseArgs(process.argv.slice(2));
(opts.mode === "make" ? make(opts) : boot(opts)).catch((error) => {
  err(`snapshot.mjs: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
