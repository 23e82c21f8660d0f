// anywidget host (the anywidget front-end module standard, AFM): widget models kept in sync
// with the kernel (`widget-model-update` in, `widget-model` out), ES modules loaded from the
// widget's virtual file or inline source, `initialize` once per model, `render` once per view,
// and every cleanup function called when a view or a model goes away.  A chunk of its own,
// imported by ./widgets.ts with the first widget message.
import type { WidgetModel as WidgetModelCommand, WidgetModelUpdate } from "../protocol.generated";

type Callback = (...args: unknown[]) => void;
type Cleanup = (() => unknown) | void | undefined;
type Path = Array<string | number>;

export interface AnyWidgetDefinition {
  initialize?: (context: { model: unknown; experimental: unknown }) => Cleanup | Promise<Cleanup>;
  render?: (context: { model: unknown; el: HTMLElement; experimental: unknown }) => Cleanup | Promise<Cleanup>;
}

// ------------------------------------------------------------------ binary buffers

function isBinary(value: unknown): value is ArrayBuffer | ArrayBufferView {
  return value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

function toBytes(value: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength) as ArrayBuffer);
}

/** Split binary values out of a state (dict entries are removed, list items become null). */
export function extractBuffers(state: Record<string, unknown>): {
  state: Record<string, unknown>;
  buffer_paths: Path[];
  buffers: Uint8Array[];
} {
  const buffer_paths: Path[] = [];
  const buffers: Uint8Array[] = [];
  const walk = (value: unknown, path: Path): unknown => {
    if (Array.isArray(value)) {
      return value.map((item, i) => {
        if (isBinary(item)) {
          buffer_paths.push([...path, i]);
          buffers.push(toBytes(item));
          return null;
        }
        return walk(item, [...path, i]);
      });
    }
    if (value && typeof value === "object" && !isBinary(value)) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        if (isBinary(item)) {
          buffer_paths.push([...path, key]);
          buffers.push(toBytes(item));
        } else {
          out[key] = walk(item, [...path, key]);
        }
      }
      return out;
    }
    return value;
  };
  return { state: walk(state, []) as Record<string, unknown>, buffer_paths, buffers };
}

/** A DataView over its own ArrayBuffer: decoded msgpack `bin` values are views into the whole
 * frame, and widget code (as with Jupyter) reads `view.buffer` as the data. */
export function ownDataView(bytes: Uint8Array): DataView {
  const copy = bytes.slice();
  return new DataView(copy.buffer);
}

/** Put `buffers[i]` (as DataView, as Jupyter widgets do) at `paths[i]` inside `state`. */
export function placeBuffers(state: Record<string, unknown>, paths: Path[], buffers: Uint8Array[]): void {
  paths.forEach((path, i) => {
    if (!path.length || !buffers[i]) return;
    let target: unknown = state;
    for (const key of path.slice(0, -1)) {
      target = (target as Record<string | number, unknown> | undefined)?.[key];
      if (!target || typeof target !== "object") return;
    }
    (target as Record<string | number, unknown>)[path[path.length - 1]] = ownDataView(buffers[i]);
  });
}

// --------------------------------------------------------------------------- model

export class AnyModel {
  private readonly listeners = new Map<string, Set<Callback>>();
  private readonly dirty = new Set<string>();
  closed = false;

  constructor(
    readonly id: string,
    private readonly state: Record<string, unknown>,
    private readonly manager: WidgetManager,
  ) {}

  get(key: string): unknown {
    return this.state[key];
  }

  set(key: string, value: unknown): void {
    this.state[key] = value;
    this.dirty.add(key);
    this.fire(`change:${key}`, this, value);
    this.fire("change", this);
  }

  on(name: string, callback: Callback): void {
    for (const event of name.split(/\s+/).filter(Boolean)) {
      let set = this.listeners.get(event);
      if (!set) {
        set = new Set();
        this.listeners.set(event, set);
      }
      set.add(callback);
    }
  }

  off(name?: string | null, callback?: Callback | null): void {
    if (!name) {
      if (!callback) this.listeners.clear();
      else for (const set of this.listeners.values()) set.delete(callback);
      return;
    }
    for (const event of name.split(/\s+/).filter(Boolean)) {
      if (callback) this.listeners.get(event)?.delete(callback);
      else this.listeners.delete(event);
    }
  }

  /** Send every key set since the last call to the kernel. */
  save_changes(): void {
    if (!this.dirty.size || this.closed) return;
    const delta: Record<string, unknown> = {};
    for (const key of this.dirty) delta[key] = this.state[key];
    this.dirty.clear();
    const { state, buffer_paths, buffers } = extractBuffers(delta);
    this.manager.send({ type: "widget-model", model_id: this.id, method: "update", state, buffer_paths, buffers });
  }

  /** A custom message to the widget's `on_msg` handlers in Python. */
  send(content: unknown, callbacks?: unknown, buffers?: Array<ArrayBuffer | ArrayBufferView>): void {
    void callbacks;
    if (this.closed) return;
    const list = (buffers ?? []).map(toBytes);
    this.manager.send({ type: "widget-model", model_id: this.id, method: "custom", content, buffers: list });
  }

  get widget_manager(): { get_model: (id: string) => Promise<AnyModel> } {
    return { get_model: (id: string) => this.manager.whenOpen(id) };
  }

  /** Kernel-side change. */
  applyRemote(delta: Record<string, unknown>): void {
    for (const [key, value] of Object.entries(delta)) {
      this.state[key] = value;
      this.dirty.delete(key);
    }
    for (const [key, value] of Object.entries(delta)) this.fire(`change:${key}`, this, value);
    this.fire("change", this);
  }

  fire(event: string, ...args: unknown[]): void {
    for (const callback of [...(this.listeners.get(event) ?? [])]) {
      try {
        callback(...args);
      } catch (error) {
        console.error(`anywidget ${this.id}: ${event} handler failed`, error);
      }
    }
  }
}

/** What `render` gets as `model`: the model, with the listeners it adds removed with the view. */
function viewModel(model: AnyModel): { proxy: AnyModel; dispose: () => void } {
  const added: Array<[string, Callback]> = [];
  const proxy = Object.create(model) as AnyModel;
  proxy.on = (name: string, callback: Callback) => {
    added.push([name, callback]);
    model.on(name, callback);
  };
  proxy.off = (name?: string | null, callback?: Callback | null) => model.off(name, callback);
  for (const method of ["get", "set", "save_changes", "send"] as const) {
    (proxy as unknown as Record<string, unknown>)[method] = (model[method] as (...a: unknown[]) => unknown).bind(model);
  }
  return { proxy, dispose: () => added.forEach(([name, callback]) => model.off(name, callback)) };
}

function experimental(model: AnyModel) {
  return {
    invoke(name: string, msg: unknown, options: { buffers?: ArrayBufferView[]; signal?: AbortSignal } = {}) {
      const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
      return new Promise((resolve, reject) => {
        const handler = (content: unknown, buffers: unknown) => {
          const c = content as { id?: string; kind?: string; response?: unknown };
          if (c?.id !== id || c.kind !== "anywidget-command-response") return;
          model.off("msg:custom", handler as Callback);
          resolve([c.response, buffers]);
        };
        model.on("msg:custom", handler as Callback);
        options.signal?.addEventListener("abort", () => {
          model.off("msg:custom", handler as Callback);
          reject(options.signal?.reason ?? new Error("aborted"));
        });
        model.send({ id, kind: "anywidget-command", name, msg }, undefined, options.buffers);
      });
    },
  };
}

// ------------------------------------------------------------------------- manager

interface ModelEntry {
  model: AnyModel;
  definition: Promise<AnyWidgetDefinition> | null;
  esmKey: string;
  initialized: Promise<void> | null;
  initCleanup: Cleanup;
  style: HTMLElement | null;
}

export class WidgetManager {
  private readonly entries = new Map<string, ModelEntry>();
  private readonly waiting = new Map<string, Array<(model: AnyModel) => void>>();
  private readonly modules = new Map<string, Promise<AnyWidgetDefinition>>();

  constructor(
    readonly send: (message: WidgetModelCommand) => void,
    private readonly fileUrl: (url: string) => string,
  ) {}

  model(id: string): AnyModel | undefined {
    return this.entries.get(id)?.model;
  }

  /** The model once its `open` has arrived. */
  whenOpen(id: string, timeoutMs = 10000): Promise<AnyModel> {
    const entry = this.entries.get(id);
    if (entry) return Promise.resolve(entry.model);
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(id) ?? [];
      list.push(resolve);
      this.waiting.set(id, list);
      setTimeout(() => reject(new Error(`widget model ${id} was never opened`)), timeoutMs);
    });
  }

  receive(note: WidgetModelUpdate): void {
    const state = (note.state ?? {}) as Record<string, unknown>;
    placeBuffers(state, note.buffer_paths ?? [], note.buffers ?? []);
    const method = note.method ?? "update";
    if (method === "open") {
      this.close(note.model_id);
      const model = new AnyModel(note.model_id, state, this);
      const entry: ModelEntry = { model, definition: null, esmKey: "", initialized: null, initCleanup: undefined, style: null };
      this.entries.set(note.model_id, entry);
      this.applyCss(entry);
      for (const resolve of this.waiting.get(note.model_id) ?? []) resolve(model);
      this.waiting.delete(note.model_id);
      return;
    }
    const entry = this.entries.get(note.model_id);
    if (!entry) return;
    if (method === "update") {
      entry.model.applyRemote(state);
      if ("_css" in state) this.applyCss(entry);
    } else if (method === "custom") {
      const buffers = (note.buffers ?? []).map(ownDataView);
      entry.model.fire("msg:custom", note.content, buffers);
    } else if (method === "close") {
      this.close(note.model_id);
    }
  }

  private close(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    entry.model.closed = true;
    entry.model.fire("destroy");
    entry.style?.remove();
    runCleanup(entry.initCleanup);
    entry.model.off();
  }

  reset(): void {
    for (const id of [...this.entries.keys()]) this.close(id);
  }

  private applyCss(entry: ModelEntry): void {
    const css = entry.model.get("_css");
    entry.style?.remove();
    entry.style = null;
    if (typeof css === "string" && css) {
      const style = document.createElement("style");
      style.dataset.anywidget = entry.model.id;
      style.textContent = css;
      entry.style = style;
    } else if (css && typeof css === "object" && typeof (css as { url?: unknown }).url === "string") {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = this.fileUrl((css as { url: string }).url);
      link.dataset.anywidget = entry.model.id;
      entry.style = link;
    }
    if (entry.style) document.head.appendChild(entry.style);
  }

  // Trust model: a widget's `_esm` is the notebook author's code (like a cell) and runs in the
  // page, as in JupyterLab and marimo; it is never sandboxed.  It only ever comes from kernel
  // code: the kernel ignores `_esm`/`_css`/view-class keys in frontend updates
  // (lifecycle.widgets.manager.CODE_KEYS), so nothing a reader sends becomes widget code.
  // Untrusted *output* (HTML, SVG, markdown) is sanitised or sandboxed: render/html.ts.
  private loadModule(esm: unknown): Promise<AnyWidgetDefinition> {
    let key: string;
    let load: () => Promise<Record<string, unknown>>;
    if (typeof esm === "string") {
      key = `inline:${esm}`;
      load = () => importSource(esm);
    } else if (esm && typeof esm === "object" && typeof (esm as { url?: unknown }).url === "string") {
      const url = this.fileUrl((esm as { url: string }).url);
      key = `url:${url}`;
      load = async () => {
        try {
          return (await import(/* @vite-ignore */ url)) as Record<string, unknown>;
        } catch {
          const response = await fetch(url, { credentials: "same-origin" });
          if (!response.ok) throw new Error(`cannot load the widget module ${url}: ${response.status}`);
          return importSource(await response.text());
        }
      };
    } else {
      return Promise.reject(new Error("this widget has no _esm module"));
    }
    let promise = this.modules.get(key);
    if (!promise) {
      promise = load().then(definitionOf);
      this.modules.set(key, promise);
      promise.catch(() => this.modules.delete(key));
    }
    return promise;
  }

  /** Render a view of model `id` into `el`; resolves to the function that removes it. */
  async render(id: string, el: HTMLElement): Promise<() => void> {
    const model = await this.whenOpen(id);
    const entry = this.entries.get(id);
    if (!entry) throw new Error(`widget model ${id} is closed`);
    const esm = model.get("_esm");
    const esmKey = typeof esm === "string" ? esm : JSON.stringify(esm);
    if (!entry.definition || entry.esmKey !== esmKey) {
      entry.definition = this.loadModule(esm);
      entry.esmKey = esmKey;
    }
    const definition = await entry.definition;
    if (!entry.initialized) {
      entry.initialized = (async () => {
        entry.initCleanup = await definition.initialize?.({ model, experimental: experimental(model) });
      })();
    }
    await entry.initialized;
    const view = viewModel(model);
    let cleanup: Cleanup;
    let disposed = false;
    try {
      cleanup = await definition.render?.({ model: view.proxy, el, experimental: experimental(model) });
    } catch (error) {
      view.dispose();
      throw error;
    }
    return () => {
      if (disposed) return;
      disposed = true;
      runCleanup(cleanup);
      view.dispose();
    };
  }
}

function runCleanup(cleanup: Cleanup): void {
  if (typeof cleanup !== "function") return;
  try {
    const result = cleanup();
    if (result && typeof (result as Promise<unknown>).catch === "function") {
      (result as Promise<unknown>).catch((error) => console.error("anywidget cleanup failed", error));
    }
  } catch (error) {
    console.error("anywidget cleanup failed", error);
  }
}

async function importSource(source: string): Promise<Record<string, unknown>> {
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  try {
    return (await import(/* @vite-ignore */ url)) as Record<string, unknown>;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** The widget definition of an AFM module: `export default {render}`, `export default () =>
 * ({render})` (sync or async), or the older named `render` / `initialize` exports. */
async function definitionOf(module: Record<string, unknown>): Promise<AnyWidgetDefinition> {
  let value: unknown = module.default;
  if (typeof value === "function") value = await (value as () => unknown)();
  if (value && typeof value === "object" && ("render" in value || "initialize" in value)) {
    return value as AnyWidgetDefinition;
  }
  if (typeof module.render === "function" || typeof module.initialize === "function") {
    return { render: module.render as AnyWidgetDefinition["render"], initialize: module.initialize as AnyWidgetDefinition["initialize"] };
  }
  throw new Error("the widget module exports neither render nor initialize");
}
