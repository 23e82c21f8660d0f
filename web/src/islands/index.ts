// Entry point of the islands bundle (amphi-islands.js): one <script type="module"> tag on a
// documentation page turns its `.amphi-island` blocks into live cells sharing one kernel in one
// Web Worker (Pyodide).  Configuration, later sources winning:
//
//   1. `globalThis.amphiIslands` (set by the loader `pyodide_host.islands` writes next to the
//      runtime, `_amphi/islands.js`, with absolute URLs);
//   2. data attributes of `<script data-amphi-islands ...>` (URLs relative to the page):
//      `data-worker`, `data-worker-options` (JSON), `data-css`, `data-file-base`,
//      `data-service-worker`, `data-autorun="false"`.
//
// Nothing starts when the page has no island.
import { WorkerTransport } from "../transport/worker";
import "./islands.css";
import { IslandsPage, ISLAND_SELECTOR } from "./islands";

export interface IslandsConfig {
  /** URL of the Pyodide worker script (module worker). */
  worker?: string;
  /** Sent to the worker in its `init` message (package index, requirements, ...). */
  workerOptions?: Record<string, unknown>;
  /** Stylesheet of the islands (default: amphi-islands.css next to this script); `false`: none. */
  css?: string | false;
  /** Base URL `@file/...` virtual-file URLs resolve against (default: the page). */
  fileBase?: string;
  /** Service worker serving `@file/` URLs, registered before the kernel starts (optional: the
   * islands get their virtual files from the kernel as `blob:` URLs without one). */
  serviceWorker?: string;
  /** Run every island once the page loads (default true; an island's `data-amphi-autorun`
   * overrides it). */
  autorun?: boolean;
}

declare global {
  // eslint-disable-next-line no-var
  var amphiIslands: IslandsConfig | undefined;
}

function scriptTag(): HTMLScriptElement | null {
  return document.querySelector<HTMLScriptElement>("script[data-amphi-islands]");
}

/** The configuration: the loader's global, then the script tag's data attributes. */
export function readConfig(): IslandsConfig {
  const config: IslandsConfig = { ...(globalThis.amphiIslands ?? {}) };
  const data = scriptTag()?.dataset;
  if (!data) return config;
  const url = (value: string) => new URL(value, document.baseURI).href;
  if (data.worker) config.worker = url(data.worker);
  if (data.css) config.css = data.css === "false" ? false : url(data.css);
  if (data.fileBase) config.fileBase = url(data.fileBase);
  if (data.serviceWorker) config.serviceWorker = url(data.serviceWorker);
  if (data.autorun) config.autorun = data.autorun !== "false";
  if (data.workerOptions) {
    try {
      config.workerOptions = { ...config.workerOptions, ...(JSON.parse(data.workerOptions) as Record<string, unknown>) };
    } catch {
      console.warn("amphikernel islands: data-worker-options is not valid JSON");
    }
  }
  return config;
}

function addStylesheet(href: string): void {
  const absolute = new URL(href, document.baseURI).href;
  for (const link of document.querySelectorAll<HTMLLinkElement>('link[rel="stylesheet"]')) {
    if (link.href === absolute) return;
  }
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = absolute;
  link.dataset.amphiIslands = "";
  document.head.append(link);
}

async function registerServiceWorker(url: string): Promise<void> {
  if (!("serviceWorker" in navigator)) return;
  try {
    await navigator.serviceWorker.register(url); // a classic script (sw.js uses importScripts)
  } catch (error) {
    console.warn("amphikernel islands: the @file/ service worker could not be registered", error);
  }
}

/** Start the islands of this page; resolves to the page model (or null: no island). */
export async function startIslands(config: IslandsConfig = readConfig()): Promise<IslandsPage | null> {
  const elements = Array.from(document.querySelectorAll<HTMLElement>(ISLAND_SELECTOR));
  if (!elements.length) return null;
  if (config.css !== false) addStylesheet(config.css ?? new URL("amphi-islands.css", import.meta.url).href);
  document.documentElement.classList.add("amphi-islands-live");
  if (!config.worker) {
    for (const el of elements) el.dataset.status = "failed";
    console.error("amphikernel islands: no worker URL (data-worker on the script tag, or the _amphi/islands.js loader)");
    return null;
  }
  const workerUrl = config.worker;
  const transport = new WorkerTransport({
    worker: () => new Worker(workerUrl, { type: "module", name: "amphikernel-islands" }),
    // No notebook snapshot: the page itself is the notebook; its blocks go in execute-cells.
    init: { mode: "run", semantics: "script", snapshot: false, ...config.workerOptions },
    fileBase: config.fileBase,
  });
  const page = new IslandsPage(transport, { elements });
  (window as unknown as { amphi: unknown }).amphi = { islands: page, transport, config };
  if (config.serviceWorker) await registerServiceWorker(config.serviceWorker);
  page.runAll(config.autorun !== false); // queued by the transport until the worker is ready
  transport.connect().catch((error: unknown) => {
    console.error("amphikernel islands: the kernel could not start", error);
  });
  return page;
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => void startIslands());
else void startIslands();
