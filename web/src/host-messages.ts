// Host-level messages between the page and its host (the local server, or the Pyodide worker),
// mirroring subprocess_host/server/messages.py.  They travel on the same channel as the kernel
// protocol, as msgpack maps with a kebab-case `type`.

export type CellKind = "code" | "markdown" | "raw";

/** One notebook cell as the page sees it. */
export interface HostCell {
  id: string;
  kind?: CellKind;
  source?: string;
  name?: string | null;
  options?: Record<string, unknown>;
}

/** Host -> page: the notebook, first on every (re)connection, then when another tab changes it. */
export interface NotebookSnapshot {
  type: "notebook";
  cells: HostCell[];
  path: string;
  mode: "edit" | "run";
  saved: boolean;
  semantics?: "script" | "strict";
  protocol?: number;
}

/** Page -> host (edit mode): write these cells to the notebook file. */
export interface SaveNotebook {
  type: "save-notebook";
  cells: HostCell[];
  request_id?: string;
  /** Write even if another program changed the file since the server read or wrote it. */
  overwrite?: boolean;
}

/** Page -> host (edit mode): replace the cells with the notebook file on disk. */
export interface ReloadNotebook {
  type: "reload-notebook";
  request_id?: string;
}

/** Host -> page: another program changed (or removed) the notebook file; saving is refused
 * until the page reloads it or overwrites it.  Also the failure answer to reload-notebook. */
export interface NotebookChangedOnDisk {
  type: "notebook-changed-on-disk";
  path: string;
  deleted?: boolean;
  error?: string;
  request_id?: string;
}

/** Host -> page: the answer to save-notebook. */
export interface NotebookSaved {
  type: "notebook-saved";
  ok: boolean;
  error?: string;
  request_id?: string;
  path?: string;
  /** Hosts without a file to write (Pyodide): the cells as a percent-format .py, to download. */
  content?: string;
  /** The file name for `content`. */
  filename?: string;
  /** Not written: another program changed the file on disk (reload or overwrite). */
  conflict?: boolean;
}

/** Page -> host (edit mode): restart the kernel. */
export interface RestartKernel {
  type: "restart-kernel";
  request_id?: string;
}

/** Host -> page: the kernel was restarted; every output is cleared. */
export interface KernelRestarted {
  type: "kernel-restarted";
  ok: boolean;
  error?: string;
  request_id?: string;
}

export type HostCommand = SaveNotebook | RestartKernel | ReloadNotebook;
export type HostMessage = NotebookSnapshot | NotebookSaved | KernelRestarted | NotebookChangedOnDisk;
