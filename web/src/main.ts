// Entry point: read the page's configuration, pick a transport, mount the view for the mode
// the host announces (edit: notebook editor, run: app view).
import "./styles.css";
import { Session } from "./session";
import { prepareStaticPage } from "./static-site";
import type { Transport } from "./transport/transport";
import { WebSocketTransport } from "./transport/websocket";
import { WorkerTransport } from "./transport/worker";

/**
 * `<script type="application/json" id="amphi-config">`: `ws` (WebSocket path, default `/ws`),
 * `mode`, `path`; or `transport: "worker"` with `worker` (the worker script URL),
 * `workerOptions` (passed in the worker's `init` message, see transport/worker-contract.ts),
 * `serviceWorker` (the site's service worker, registered before the worker starts: `@file/`
 * virtual files and cross-origin isolation; absent: none) and `isolate` (reload once to become
 * cross-origin isolated through it, default true).
 */
export interface PageConfig {
  mode?: "edit" | "run";
  path?: string;
  file?: string;
  ws?: string;
  transport?: "websocket" | "worker";
  worker?: string;
  workerOptions?: Record<string, unknown>;
  serviceWorker?: string | null;
  isolate?: boolean;
}

/** A view's class: the notebook editor (edit) or the app view (run). */
type ViewClass = new (session: Session, container: HTMLElement, retry: () => void) => { destroy(): void };

declare global {
  interface Window {
    /** The kernel's worker, started by the page's inline script before this bundle loaded
     * (it was sent `preload` with the page's `workerOptions`). */
    __amphiEarlyWorker?: { worker: Worker; url: string };
  }
}

function readConfig(): PageConfig {
  const node = document.getElementById("amphi-config");
  if (!node?.textContent) return {};
  try {
    return JSON.parse(node.textContent) as PageConfig;
  } catch {
    console.warn("amphikernel: #amphi-config is not valid JSON");
    return {};
  }
}

function makeTransport(config: PageConfig): Transport {
  if (config.transport === "worker") {
    if (!config.worker) throw new Error("amphi-config: transport 'worker' needs a 'worker' URL");
    const url = new URL(config.worker, location.href);
    // The worker the page's inline script started (pyodide_host/export/page.py), once.
    const early = window.__amphiEarlyWorker;
    window.__amphiEarlyWorker = undefined;
    const adopt = early && early.url === url.href ? early.worker : null;
    if (early && !adopt) early.worker.terminate();
    let first = adopt;
    const worker = () => {
      const made = first ?? new Worker(url, { type: "module" });
      first = null;
      return made;
    };
    return new WorkerTransport({ worker, init: config.workerOptions });
  }
  const url = new URL(config.ws ?? "/ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return new WebSocketTransport({ url: url.toString() });
}

async function start(): Promise<void> {
  const root = document.getElementById("app") ?? document.body;
  const config = readConfig();
  if (config.transport === "worker") {
    const notice = document.createElement("div");
    notice.className = "loading";
    notice.setAttribute("role", "status");
    notice.textContent = "Loading…";
    root.replaceChildren(notice);
    const readiness = await prepareStaticPage({ serviceWorker: config.serviceWorker, isolate: config.isolate });
    if (!readiness.ok) {
      notice.setAttribute("role", "alert");
      notice.textContent = readiness.message;
      return;
    }
  }
  // Each view is its own chunk: the app view never loads the editor.  The page's
  // configuration names the mode, so its chunk is fetched and evaluated while the transport
  // connects (not after the host's snapshot has arrived: one round trip less before the cells).
  const loaded = new Map<"edit" | "run", Promise<ViewClass>>();
  const loadView = (mode: "edit" | "run"): Promise<ViewClass> => {
    let promise = loaded.get(mode);
    if (!promise) {
      promise =
        mode === "run"
          ? import("./views/app").then((m) => m.AppView)
          : import("./views/notebook").then((m) => m.NotebookView);
      promise.catch(() => loaded.delete(mode)); // a failed load is tried again by the next mount
      loaded.set(mode, promise);
    }
    return promise;
  };
  if (config.mode === "edit" || config.mode === "run") {
    loadView(config.mode).catch(() => undefined);
    // What both views import (their common pieces, the output rendering with markdown and its
    // Python highlighter) is requested now too, beside the view's own chunk, not only once
    // that chunk has been read (one round trip less).
    import("./views/common").catch(() => undefined);
    import("./views/outputs").catch(() => undefined);
  }
  const transport = makeTransport(config);
  const session = new Session(transport);
  if (config.path) session.path = config.path;
  const retry = () => (transport as Partial<WebSocketTransport>).retryNow?.();
  let view: { destroy(): void } | null = null;
  let mounting = 0;
  const mount = async (mode: "edit" | "run") => {
    const ticket = ++mounting;
    const View = await loadView(mode);
    if (ticket !== mounting) return;
    view?.destroy();
    root.classList.toggle("mode-edit", mode === "edit");
    root.classList.toggle("mode-run", mode === "run");
    view = new View(session, root, retry);
  };
  const loading = document.createElement("div");
  loading.className = "loading";
  loading.setAttribute("role", "status");
  loading.textContent = "Connecting…";
  root.replaceChildren(loading);
  transport.onStatus((status) => {
    if (view) return;
    if (status.state === "closed") loading.textContent = `Cannot connect: ${status.error ?? "closed"}`;
    else if (status.stage) loading.textContent = `${status.stage}${status.progress !== undefined ? ` (${Math.round(status.progress * 100)}%)` : ""}`;
  });
  session.on("mode", (mode) => {
    mount(mode).catch((error: unknown) => {
      loading.textContent = `Cannot load the ${mode} view: ${String(error)}`;
    });
  });
  // For debugging and the end-to-end tests.
  (window as unknown as { amphi: unknown }).amphi = { session, transport, config };
  transport.connect().catch((error: unknown) => {
    loading.textContent = `Cannot connect: ${error instanceof Error ? error.message : String(error)}`;
  });
}

const boot = () => {
  start().catch((error: unknown) => console.error("amphikernel: the page could not start", error));
};
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
