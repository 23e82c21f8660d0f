// Node harness for the Pyodide host: boots Pyodide from a dist directory built by
// `python -m pyodide_host.build`, loads msgspec + our wheel, starts a kernel session
// (pyodide_host.session) and lets a driver process talk to it over stdin/stdout.
//
//   node pyodide_host/node/harness.mjs --dist build/pyodide/dist [options]
//
// Options:
//   --dist DIR            the dist directory (required)
//   --no-session          boot and load packages, but start no kernel session
//   --floor               measure the floor only: loadPyodide + load msgspec, report, exit
//   --packages a,b        extra lock packages to load at boot (e.g. pytest for in-Pyodide tests)
//   --mount HOST:GUEST    mount a host directory into Pyodide's file system (NODEFS); repeatable
//   --stdin-answer TEXT   give the session a synchronous wait_reply that answers every input()
//                         with TEXT (what a cross-origin-isolated page does with Atomics.wait);
//                         without it input() raises the "not cross-origin isolated" explanation
//   --interrupt           set an interrupt buffer (pyodide.setInterruptBuffer) and announce it
//   --mode edit|run       kernel mode (default edit)
//
// Wire format, both directions: frames of [u32 big-endian length][u8 channel][payload], where
// length counts the channel byte and the payload.
//   channel 0: kernel frames: msgpack commands in (handed to session.handle_frame unchanged),
//              msgpack notifications out (exactly the bytes the session sent).
//   channel 1: control, UTF-8 JSON.  In: {"op": ..., "id": n, ...}; out: events and replies.
//     {"op":"exec","id":n,"code":"..."}   run Python (runPythonAsync; top-level await allowed);
//                                        reply {"id":n,"ok":true,"result":<str(value) or null>}
//                                        or {"id":n,"ok":false,"error":"..."}
//     {"op":"call","id":n,"module":"m","function":"f","args":[...]}  call m.f(*args) with
//                                        callPromising (needs node --experimental-wasm-stack-switching
//                                        when it runs an event loop); reply as for exec
//     {"op":"interrupt-after","id":n,"ms":M}  write SIGINT into the interrupt buffer from another
//                                        thread after M ms (needs --interrupt), as the page does
//     {"op":"restart","id":n}            session.restart(); reply when the new kernel is ready
//     {"op":"bench","id":n,"frame":<base64 msgpack command>,"runs":R,"until":"completed-run",
//      "count":["cell-console"]}          hand the frame in R times, each time waiting for a
//                                        notification containing `until`; frames are counted,
//                                        not forwarded; reply {"samples_ms":[...],"counts":[...]}
//     {"op":"quit"}                      exit(0)
//   Events out: {"event":"booted","timings":{...}} once ready (after kernel-ready was sent;
//   control messages are handled from then on; kernel frames are handed in as they come),
//   {"event":"first-completed-run","ms":...,"boot_ms":...} when the first run completes (ms since
//   the harness started; boot_ms: when loadPyodide returned), {"event":"fatal","error":"..."}
//   before a non-zero exit.
//
// Python's own stdout/stderr (outside cells) go to this process's stderr, so stdout carries
// frames only.  Nothing is fetched from the network: every package comes from the dist dir.

import fs from "node:fs";
import { Worker } from "node:worker_threads";
import path from "node:path";
import { pathToFileURL } from "node:url";

const t0 = performance.now();
const CH_KERNEL = 0;
const CH_CONTROL = 1;

function parseArgs(argv) {
  const opts = { dist: null, session: true, floor: false, packages: [], mounts: [], stdinAnswer: null, interrupt: false, mode: "edit" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--dist") opts.dist = next();
    else if (a === "--no-session") opts.session = false;
    else if (a === "--floor") opts.floor = true;
    else if (a === "--packages") opts.packages.push(...next().split(",").filter(Boolean));
    else if (a === "--mount") {
      const spec = next();
      const at = spec.lastIndexOf(":");
      if (at <= 0) throw new Error(`--mount wants HOST:GUEST, got ${spec}`);
      opts.mounts.push([spec.slice(0, at), spec.slice(at + 1)]);
    } else if (a === "--stdin-answer") opts.stdinAnswer = next();
    else if (a === "--interrupt") opts.interrupt = true;
    else if (a === "--mode") opts.mode = next();
    else throw new Error(`unknown option ${a}`);
  }
  if (!opts.dist) throw new Error("--dist DIR is required");
  return opts;
}

// ----------------------------------------------------------------------------- output

const out = fs.openSync("/dev/stdout", "w");
function writeFrame(channel, payload) {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(payload.byteLength + 1, 0);
  header.writeUInt8(channel, 4);
  fs.writeSync(out, header);
  if (payload.byteLength) fs.writeSync(out, payload);
}
function control(obj) {
  writeFrame(CH_CONTROL, Buffer.from(JSON.stringify(obj), "utf8"));
}
function fatal(error) {
  const message = error && error.stack ? error.stack : String(error);
  try {
    control({ event: "fatal", error: message });
  } catch {}
  process.stderr.write(`harness: ${message}\n`);
  process.exit(1);
}
// console.log would write to stdout: keep stdout for frames.
console.log = (...args) => process.stderr.write(args.join(" ") + "\n");

// ------------------------------------------------------------------------------ input

function readFrames(onFrame) {
  let buffered = Buffer.alloc(0);
  process.stdin.on("data", (chunk) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    while (buffered.length >= 5) {
      const length = buffered.readUInt32BE(0);
      if (buffered.length < 4 + length) break;
      const channel = buffered.readUInt8(4);
      // Copy: the frame must own its bytes (the session may keep them).
      const payload = new Uint8Array(buffered.subarray(5, 4 + length));
      buffered = buffered.subarray(4 + length);
      onFrame(channel, payload);
    }
  });
  process.stdin.on("end", () => process.exit(0));
}

// ------------------------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const dist = path.resolve(opts.dist);
  if (!fs.existsSync(path.join(dist, "pyodide.mjs"))) {
    throw new Error(`${dist} is not a Pyodide dist directory (run: python -m pyodide_host.build)`);
  }
  const indexURL = dist + path.sep;
  const { loadPyodide } = await import(pathToFileURL(path.join(dist, "pyodide.mjs")).href);
  const err = (line) => process.stderr.write(line + "\n");
  const pyodide = await loadPyodide({ indexURL, packageCacheDir: indexURL, stdout: err, stderr: err });
  const tBooted = performance.now();
  const quiet = { messageCallback: () => {}, errorCallback: err };

  if (opts.floor) {
    await pyodide.loadPackage(["msgspec"], quiet);
    pyodide.runPython("import msgspec");
    control({ event: "booted", timings: { boot_ms: tBooted - t0, ready_ms: performance.now() - t0 } });
    process.exit(0);
  }

  // Frames that arrive while Pyodide boots wait here, in order.
  let handleKernelFrame = null;
  const early = [];
  let onControl = null;
  const earlyControl = [];
  readFrames((channel, payload) => {
    if (channel === CH_KERNEL) {
      if (handleKernelFrame) handleKernelFrame(payload);
      else early.push(payload);
    } else if (channel === CH_CONTROL) {
      const message = JSON.parse(Buffer.from(payload).toString("utf8"));
      if (onControl) onControl(message);
      else earlyControl.push(message);
    }
  });

  for (const [host, guest] of opts.mounts) {
    pyodide.FS.mkdirTree(guest);
    pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: path.resolve(host) }, guest);
  }
  await pyodide.loadPackage(["amphikernel", ...opts.packages], quiet);
  const tLoaded = performance.now();

  // Kernel frames out: forwarded to stdout, or (during a bench) counted.
  let sink = null;
  const send = (frame) => sink(frame);

  // Wait for the next kernel frame whose bytes contain `marker` (tags are plain msgpack strings).
  const watchers = [];
  const forward = (frame) => {
    writeFrame(CH_KERNEL, frame);
    if (watchers.length) checkWatchers(frame);
  };
  sink = forward;
  const markerCache = new Map();
  function markerBytes(marker) {
    let bytes = markerCache.get(marker);
    if (!bytes) markerCache.set(marker, (bytes = Buffer.from(marker, "utf8")));
    return bytes;
  }
  function contains(frame, marker) {
    return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).indexOf(markerBytes(marker)) >= 0;
  }
  function checkWatchers(frame) {
    for (let i = watchers.length - 1; i >= 0; i--) {
      if (contains(frame, watchers[i].marker)) {
        const [w] = watchers.splice(i, 1);
        w.resolve(frame);
      }
    }
  }
  function waitForFrame(marker) {
    return new Promise((resolve) => watchers.push({ marker, resolve }));
  }


  let session = null;
  let kernelReady = null;
  let interruptBuffer = null;
  if (opts.session) {
    kernelReady = waitForFrame("kernel-ready");
    waitForFrame("completed-run").then(() =>
      control({ event: "first-completed-run", ms: performance.now() - t0, boot_ms: tBooted - t0 }),
    );
    if (opts.interrupt) {
      interruptBuffer = new Int32Array(new SharedArrayBuffer(4));
      pyodide.setInterruptBuffer(interruptBuffer);
    }
    const waitReply = opts.stdinAnswer === null ? null : (_requestId) => opts.stdinAnswer;
    const sessionModule = pyodide.pyimport("pyodide_host.session");
    session = sessionModule.create_session.callKwargs(send, {
      wait_reply: waitReply,
      interrupt_available: opts.interrupt,
      mode: opts.mode,
    });
    handleKernelFrame = (frame) => session.handle_frame(frame);
    for (const frame of early.splice(0)) handleKernelFrame(frame);
  }
  const tSession = performance.now();
  let tReady = tSession;
  if (kernelReady) {
    await kernelReady;
    tReady = performance.now();
  }

  const api = { pyodide, session };
  globalThis.amphiHarness = api;

  async function runControl(message) {
    const id = message.id ?? null;
    try {
      if (message.op === "exec") {
        const value = await pyodide.runPythonAsync(message.code);
        let result = null;
        if (value !== undefined && value !== null) {
          result = typeof value === "string" ? value : String(value);
          if (value && typeof value.destroy === "function") value.destroy();
        }
        control({ id, ok: true, result });
      } else if (message.op === "call") {
        // A synchronous Python entry point that may block on asyncio (loop.run_until_complete
        // with stack switching): called with callPromising, outside any running event loop.
        const module = pyodide.pyimport(message.module);
        const fn = module[message.function];
        const value = await fn.callPromising(...(message.args ?? []));
        fn.destroy();
        module.destroy();
        control({ id, ok: true, result: value === undefined || value === null ? null : String(value) });
      } else if (message.op === "restart") {
        const waiter = waitForFrame("kernel-ready");
        session.restart();
        await waiter;
        control({ id, ok: true, result: null });
      } else if (message.op === "interrupt-after") {
        // What the page does from its own thread: write SIGINT into the interrupt buffer while
        // a cell keeps this thread busy (here: a worker thread, after `ms` milliseconds).
        if (!interruptBuffer) throw new Error("start the harness with --interrupt");
        const code =
          "const { workerData } = require('node:worker_threads');" +
          "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.ms);" +
          "Atomics.store(new Int32Array(workerData.sab), 0, 2);";
        const worker = new Worker(code, { eval: true, workerData: { sab: interruptBuffer.buffer, ms: message.ms ?? 100 } });
        worker.unref();
        control({ id, ok: true, result: null });
      } else if (message.op === "bench") {
        control({ id, ok: true, ...(await bench(message)) });
      } else if (message.op === "quit") {
        process.exit(0);
      } else {
        control({ id, ok: false, error: `unknown op ${message.op}` });
      }
    } catch (error) {
      control({ id, ok: false, error: error && error.message ? error.message : String(error) });
    }
  }

  async function bench(message) {
    const frame = new Uint8Array(Buffer.from(message.frame, "base64"));
    const until = message.until ?? "completed-run";
    const countMarkers = message.count ?? [];
    const samples = [];
    const counts = [];
    const saved = sink;
    let done = null;
    let counted = null;
    let total = 0;
    sink = (f) => {
      total++;
      for (let k = 0; k < countMarkers.length; k++) if (contains(f, countMarkers[k])) counted[k]++;
      if (done && contains(f, until)) {
        const d = done;
        done = null;
        d();
      }
    };
    try {
      for (let r = 0; r < (message.runs ?? 1); r++) {
        counted = countMarkers.map(() => 0);
        const finished = new Promise((resolve) => (done = resolve));
        const start = performance.now();
        session.handle_frame(frame);
        await finished;
        samples.push(performance.now() - start);
        counts.push(counted);
      }
    } finally {
      sink = saved;
    }
    return { samples_ms: samples, counts, frames: total };
  }

  // Control messages run one at a time, in order.
  let chain = Promise.resolve();
  onControl = (message) => {
    chain = chain.then(() => runControl(message));
  };
  for (const message of earlyControl.splice(0)) onControl(message);

  control({
    event: "booted",
    timings: {
      boot_ms: tBooted - t0,
      packages_ms: tLoaded - tBooted,
      session_ms: tSession - tLoaded,
      kernel_ready_ms: tReady - tSession,
      ready_ms: performance.now() - t0,
    },
  });
}

main().catch(fatal);
