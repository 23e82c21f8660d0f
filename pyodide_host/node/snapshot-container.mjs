// Opening a memory-snapshot container for `snapshot.mjs boot` (Node only; the page's worker
// has its own download path): the gzip file decompressed (its start at once, the rest on the
// thread pool), or its decompressed copy read from a cache folder kept like a compile cache.

import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { constants as zlib, gunzip as gunzipAsync, gunzipSync } from "node:zlib";
import { parseHeader } from "./snapshot-restore.mjs";

// A file's bytes, read by the thread pool in one go (fs.promises.readFile reads 512 KB at a
// time, each piece waiting for the main thread, which is busy compiling the runtime's
// JavaScript meanwhile).  `size`: the length it must have (else it rejects).
export function readWhole(file, size = null) {
  return new Promise((resolve, reject) => {
    fs.open(file, "r", (error, fd) => {
      if (error) return reject(error);
      const done = (error, bytes) => fs.close(fd, () => (error ? reject(error) : resolve(bytes)));
      fs.fstat(fd, (error, stat) => {
        if (error) return done(error);
        if (size !== null && stat.size !== size) return done(new Error(`${file} has ${stat.size} bytes, expected ${size}`));
        const bytes = Buffer.allocUnsafeSlow(stat.size);
        const more = (at) =>
          at === bytes.length
            ? done(null, bytes)
            : fs.read(fd, bytes, at, bytes.length - at, at, (error, n) => (error ? done(error) : n === 0 ? done(new Error(`${file} is shorter than its size`)) : more(at + n)));
        more(0);
      });
    });
  });
}

// Where decompressed containers are kept between boots (a compile cache's role): one file per
// compressed container, named by its SHA-256, written whole under a temporary name and renamed
// (a reader finds a complete file or none), checked for its size when read; the CACHE_KEEP
// most recently used are kept.  Any file in it may be deleted at any time (the next boot
// decompresses again).  $AMPHI_SNAPSHOT_CACHE names the
// folder, "off" (or "0") turns it off; default: $XDG_CACHE_HOME or ~/.cache, /amphikernel/snapshots.
function cacheFolder() {
  const chosen = process.env.AMPHI_SNAPSHOT_CACHE;
  if (chosen === "off" || chosen === "0") return null;
  if (chosen) return chosen;
  const home = process.env.XDG_CACHE_HOME || (process.env.HOME ? path.join(process.env.HOME, ".cache") : null);
  return home ? path.join(home, "amphikernel", "snapshots") : null;
}

const CACHE_KEEP = 4;

// Compressed bytes decompressed at once for the container's header and shared libraries.
const PREFIX_BYTES = 1 << 18;

// After a boot that decompressed: the container into the cache (after the boot's answer; a
// failure only means no cache), then all but the CACHE_KEEP most recently used containers out.
async function writeCached(cached, bytes) {
  const folder = path.dirname(cached);
  const temporary = `${cached}.${process.pid}.${Date.now()}.tmp`;
  try {
    await fs.promises.mkdir(folder, { recursive: true });
    await fs.promises.writeFile(temporary, bytes, { flag: "wx" });
    await fs.promises.rename(temporary, cached);
  } catch {
    await fs.promises.rm(temporary, { force: true }).catch(() => {});
    return false;
  }
  try {
    const entries = [];
    for (const name of await fs.promises.readdir(folder)) {
      if (!/^[0-9a-f]{64}\.bin$/.test(name)) continue;
      const file = path.join(folder, name);
      entries.push({ file, used: (await fs.promises.stat(file)).mtimeMs });
    }
    entries.sort((a, b) => b.used - a.used);
    for (const { file } of entries.slice(CACHE_KEEP)) if (file !== cached) await fs.promises.rm(file, { force: true });
  } catch {
    // another boot pruned meanwhile
  }
  return true;
}

// After a boot that read the cache: its container marked as used (its modification time).
function touchCached(cached) {
  const now = new Date();
  return fs.promises.utimes(cached, now, now).then(() => true, () => false);
}

// The container, its start decompressed at once and all of it by the thread pool meanwhile, into
// one buffer of its final size, or read whole from the cache by the thread pool (see cacheFolder;
// a cached copy that cannot be read is ignored), so loadPyodide starts at once: it gets the
// memory section as soon as the header is in (only its length is read before
// `createPyodideModule` returns); `dylibs` resolves when the shared libraries' sections are in
// (the runtime is instantiated then: `snapshot.mjs make` puts them first), `complete` when
// every byte is.  `saveToCache()` writes a container it decompressed to the cache (or marks
// the cached one it read as used).
export function openContainer(file, { cache = true } = {}) {
  const compressed = fs.readFileSync(file);
  const gzipped = compressed[0] === 0x1f && compressed[1] === 0x8b;
  // A gzip member ends with its uncompressed size (mod 2**32; a container is far smaller).
  const size = gzipped ? compressed.readUInt32LE(compressed.length - 4) : compressed.length;
  if (size < 16 || size > 2 ** 31) throw new Error(`not an amphikernel snapshot (${size} bytes uncompressed)`);
  const folder = gzipped && cache ? cacheFolder() : null;
  const cached = folder ? path.join(folder, `${createHash("sha256").update(compressed).digest("hex")}.bin`) : null;
  let inCache = false;
  try {
    inCache = cached !== null && fs.statSync(cached).size === size;
  } catch {
    // not there (yet)
  }
  let bytes = gzipped ? null : new Uint8Array(compressed.buffer, compressed.byteOffset, size);
  let filled = 0;
  let headerWaiter = null;
  const header = new Promise((resolve, reject) => (headerWaiter = { resolve, reject }));
  let dylibsEnd = Infinity;
  let dylibsWaiter = null;
  const dylibs = new Promise((resolve, reject) => (dylibsWaiter = { resolve, reject }));
  const check = () => {
    if (headerWaiter && filled >= 16) {
      try {
        const parsed = parseHeader(bytes, filled);
        if (parsed) {
          headerWaiter.resolve(parsed), (headerWaiter = null);
          dylibsEnd = 0;
          for (const s of parsed.header.sections.filter((s) => s.kind === "dylib")) {
            const view = parsed.section(s);
            dylibsEnd = Math.max(dylibsEnd, view.byteOffset - bytes.byteOffset + view.byteLength);
          }
        }
      } catch (error) {
        headerWaiter.reject(error), (headerWaiter = null);
      }
    }
    if (dylibsWaiter && filled >= dylibsEnd) dylibsWaiter.resolve(), (dylibsWaiter = null);
    if (filled === size && (headerWaiter || dylibsWaiter)) {
      const error = new Error("the snapshot's header lists more bytes than it has");
      headerWaiter?.reject(error), dylibsWaiter?.reject(error), (headerWaiter = dylibsWaiter = null);
    }
  };
  let decompressed = false;
  const gunzip = (resolve, reject) => {
    decompressed = true;
    bytes = new Uint8Array(size);
    // The header and the shared libraries (they come first) at once: the first compressed
    // bytes decompressed here (a few ms; a cut-off stream is fine with Z_SYNC_FLUSH).
    try {
      const prefix = gunzipSync(compressed.subarray(0, Math.min(compressed.length, PREFIX_BYTES)), { finishFlush: zlib.Z_SYNC_FLUSH });
      filled = Math.min(prefix.length, size);
      bytes.set(prefix.subarray(0, filled));
      check();
    } catch {
      // the whole decompression below reports what is wrong
    }
    // All of it in one piece on the thread pool: a stream's pieces would each wait for this
    // thread, which instantiates the runtime meanwhile.
    gunzipAsync(compressed, { chunkSize: size + (1 << 16) }, (error, all) => {
      if (error) return reject(error);
      if (all.length !== size) return reject(new Error(`the snapshot has ${all.length} bytes, its gzip trailer says ${size}`));
      bytes.set(all.subarray(filled), filled); // the start is in already
      filled = size;
      check();
      resolve();
    });
  };
  const complete = new Promise((resolve, reject) => {
    if (!gzipped) {
      filled = size;
      check();
      resolve();
    } else if (inCache) {
      readWhole(cached, size).then(
        (read) => {
          bytes = read;
          filled = size;
          check();
          resolve();
        },
        () => ((inCache = false), gunzip(resolve, reject)),
      );
    } else {
      gunzip(resolve, reject);
    }
  });
  complete.catch((error) => {
    headerWaiter?.reject(error);
    dylibsWaiter?.reject(error);
  });
  header.catch(() => {});
  dylibs.catch(() => {});
  const saveToCache = () =>
    cached === null ? Promise.resolve(false) : complete.then(() => (decompressed ? writeCached(cached, bytes) : inCache ? touchCached(cached) : false), () => false);
  return {
    header,
    dylibs,
    complete,
    get cached() {
      return inCache;
    },
    saveToCache,
  };
}

