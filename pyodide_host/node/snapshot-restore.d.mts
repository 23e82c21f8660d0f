// Types of ./snapshot-restore.mjs (for web/src/worker/memory-snapshot.ts).

export declare const MAGIC: string;
export declare const SNAPSHOT_FORMAT: number;

export interface PackageInfo {
  version: string | null;
  sha256: string | null;
  channel: string;
}

export interface Section {
  kind: "memory" | "dylib" | "file";
  path: string;
  offset: number;
  length: number;
}

export interface Dylib {
  path: string;
  handle: number;
  memory_base: number;
  table_base: number;
  table_size: number;
  table_end: number;
}

export interface Header {
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

/** An in-memory file system node (MEMFS): a directory's `contents` maps names to nodes. */
export interface FSNode {
  contents?: unknown;
  usedBytes?: number;
  node_ops?: { mknod?(parent: FSNode, name: string, mode: number, dev: number): FSNode };
}

/** The parts of the Emscripten module restoring uses. */
export interface EmscriptenModule {
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

/** The parts of the Pyodide API restoring uses. */
export interface RestoredPyodide {
  loadedPackages: Record<string, string>;
  runPython(code: string): unknown;
}

export declare function parseHeader(bytes: Uint8Array, filled: number): Container | null;
export declare function loadDylibs(module: EmscriptenModule, container: Container): void;
export declare function writeFiles(FS: EmscriptenModule["FS"], container: Container): void;
export declare const AFTER_RESTORE: string;
export declare function finishRestore(pyodide: RestoredPyodide, module: EmscriptenModule, container: Container): void;
/** Share compiled tiny modules (Emscripten's per-signature function wrappers) until the returned function is called. */
export declare function shareSmallModules(limit?: number): () => void;
