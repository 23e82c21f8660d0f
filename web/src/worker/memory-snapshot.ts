// Booting the kernel's Pyodide from a memory snapshot (pyodide_host/build/snapshot.py makes it
// under Node at build time, with pyodide_host/node/snapshot.mjs, whose `boot` mode does the same
// steps for Node; the steps both share are in pyodide_host/node/snapshot-restore.mjs).
//
// The site's pyodide/ folder may hold `memory-snapshot.json` (a sidecar: format, Pyodide
// version, the lock's SHA-256, the packages inside, the container's size) and
// `memory-snapshot.bin.gz` (the container, gzip).  `fetchSnapshot` starts the container's
// download beside the sidecar's, checks the sidecar against the runtime and returns null (after
// a console note) when anything does not match; the worker then boots normally.  Otherwise the container is
// inflated off this thread (./inflate.ts) into one buffer of its final size while loadPyodide
// already runs: `restoreOptions` hands it the memory section as soon as the header is in
// (Pyodide only reads its length before the runtime is instantiated: the wasm and stdlib
// downloads and the wasm compile overlap the snapshot's download), and a `createPyodideModule`
// that, once the runtime is instantiated, waits for the last byte, then instantiates the shared
// libraries of the snapshot at their old memory and table base *before* the memory is restored
// (the WebAssembly table is not part of the memory).  A download or restore that fails on the
// way makes loadPyodide fail: `loadPyodideFast` notes it and boots normally.  `finishRestore`
// writes site-packages back (the file system lives in JavaScript), tells the package manager
// what is loaded, reseeds `random` and re-enables the garbage collector (disabled in the
// snapshot until the libraries are back).

import {
  type Container,
  type EmscriptenModule,
  type PackageInfo,
  type RestoredPyodide,
  SNAPSHOT_FORMAT,
  finishRestore,
  loadDylibs,
  parseHeader,
} from "../../../pyodide_host/node/snapshot-restore.mjs";
import { decompressed } from "./inflate";

export { SNAPSHOT_FORMAT };

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

/** A checked snapshot, downloading. */
export interface Snapshot {
  /** Resolves when the header is in; rejects when it is not a container or not ours. */
  opened: Promise<Container>;
  /** Resolves when every byte is in; rejects when the download fails or is cut short. */
  complete: Promise<void>;
}

export type CreateModule = (settings: Record<string, unknown>) => Promise<EmscriptenModule>;

function note(message: string): void {
  console.warn(`amphikernel worker: ${message}; starting Python without the memory snapshot`);
}

async function sha256Hex(text: string): Promise<string | null> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  const digest = new Uint8Array(await subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
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
    const reader = decompressed(body).getReader(); // inflated off this thread where it can be
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

/** The container's usual name (pyodide_host/build/snapshot.py SNAPSHOT_FILE): fetched at once. */
const SNAPSHOT_FILE = "memory-snapshot.bin.gz";

/**
 * Download the site's memory snapshot if it matches the runtime; null (with a console note
 * when one was there but is unusable) otherwise.
 *
 * The container's download starts at once, beside the sidecar's (a round trip and, cold, the
 * compile of the runtime's JavaScript earlier); it is cancelled when the sidecar refuses it.
 * The result comes as soon as the sidecar and the runtime's version agree, so loadPyodide
 * (and its wasm and stdlib downloads) starts then; the lock check runs meanwhile and, when it
 * fails, makes `opened` reject (a console note; the caller boots normally).
 *
 * @param indexURL the runtime folder (trailing slash).
 * @param version the runtime's Pyodide version (`pyodide.mjs`'s `version`), when known.
 */
export async function fetchSnapshot(indexURL: string, version: Promise<string | null>): Promise<Snapshot | null> {
  const cancel = new AbortController();
  const fetchBody = (file: string) =>
    fetch(new URL(file, indexURL), { signal: cancel.signal }).then((r) => {
      if (!r.ok || !r.body) throw new Error(`${file}: HTTP ${r.status}`);
      return r.body;
    });
  let download = fetchBody(SNAPSHOT_FILE);
  download.catch(() => {}); // awaited below, unless a check fails first
  let sidecar: Sidecar;
  try {
    const response = await fetch(`${indexURL}memory-snapshot.json`);
    if (!response.ok) return cancel.abort(), null; // the site has none
    sidecar = (await response.json()) as Sidecar;
  } catch {
    cancel.abort();
    return null;
  }
  const refuse = (why: string) => {
    cancel.abort();
    note(why);
    return null;
  };
  try {
    if (sidecar.format !== SNAPSHOT_FORMAT) return refuse(`memory snapshot format ${sidecar.format} (this worker reads ${SNAPSHOT_FORMAT})`);
    const size = sidecar.raw_bytes;
    if (!Number.isSafeInteger(size) || size < 16) return refuse("the memory snapshot's description has no size");
    if (sidecar.file !== SNAPSHOT_FILE) {
      const speculative = download;
      download = fetchBody(sidecar.file);
      download.catch(() => {});
      void speculative.then((body) => body.cancel(), () => {});
    }
    // The lock's packages and hash, checked while the runtime starts.
    const lockChecked = (async () => {
      const lockText = await (await fetch(`${indexURL}pyodide-lock.json`)).text();
      const lock = JSON.parse(lockText) as { packages?: Record<string, { sha256?: string }> };
      for (const [name, info] of Object.entries(sidecar.packages)) {
        const current = lock.packages?.[name]?.sha256 ?? null;
        if (current !== info.sha256) throw new Error(`the memory snapshot holds another ${name} than the site's lock`);
      }
      const lockHash = await sha256Hex(lockText);
      if (lockHash !== null && lockHash !== sidecar.lock_sha256) throw new Error("the memory snapshot was made for another pyodide-lock.json");
    })();
    lockChecked.catch((error: unknown) => refuse(error instanceof Error ? error.message : String(error)));
    const runtimeVersion = await version;
    if (runtimeVersion !== null && runtimeVersion !== sidecar.pyodide) {
      return refuse(`the memory snapshot is of Pyodide ${sidecar.pyodide}, the runtime is ${runtimeVersion}`);
    }
    const snapshot = streamContainer(await download, size);
    const opened = Promise.all([snapshot.opened, lockChecked]).then(([c]) => {
      if (c.header.pyodide !== sidecar.pyodide) throw new Error("the memory snapshot does not match its description");
      return c;
    });
    opened.catch(() => {});
    const complete = Promise.all([snapshot.complete, lockChecked]).then(() => {});
    complete.catch(() => {});
    return { opened, complete };
  } catch (error) {
    cancel.abort();
    note(`the memory snapshot could not be loaded (${error instanceof Error ? error.message : String(error)})`);
    return null;
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
        performance.mark("amphi:module-created");
      } finally {
        for (const [k, d] of saved) if (d) Object.defineProperty(WebAssembly, k, d);
      }
      await snapshot.complete; // the memory image and the libraries are all in now
      performance.mark("amphi:complete");
      loadDylibs(module, container); // ../../../pyodide_host/node/snapshot-restore.mjs
      onRestored(module, container);
      return module;
    },
  };
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
      performance.mark("amphi:finish-restore");
      console.info("amphikernel worker: Python restored from the memory snapshot");
      return { pyodide, restored: true };
    } catch (error) {
      note(`the memory snapshot could not be restored (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  return { pyodide: await loadPyodide(config), restored: false };
}
