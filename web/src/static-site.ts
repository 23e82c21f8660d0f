// Pages that run the kernel in a Web Worker (exported sites, islands): what must happen before
// the worker starts.
//
// * `file://` pages cannot run it (no module workers, no service workers, no wasm fetches):
//   `FILE_PROTOCOL_MESSAGE` says what to do instead.
// * The site's service worker (sw.js) serves `@file/` virtual files and, through the bundled
//   coi-serviceworker, makes the page cross-origin isolated on hosts that cannot send
//   COOP/COEP headers.  A first visit installs it and reloads once (the reload is gated so the
//   pre-reload page never starts Pyodide); with the headers already present there is no reload.

export const FILE_PROTOCOL_MESSAGE =
  "This notebook runs Python in your browser, which browsers only allow for pages served over " +
  "HTTP(S), not opened as a file. In this folder, run `python -m http.server` and open " +
  "http://localhost:8000/ (any static web server works).";

export interface StaticPageOptions {
  /** The service worker script (e.g. "sw.js", relative to the page); none when absent. */
  serviceWorker?: string | null;
  /** Reload once to become cross-origin isolated through the service worker (default true). */
  isolate?: boolean;
  /** How long to wait for the service worker to control the page (default 4000 ms). */
  controlTimeoutMs?: number;
}

export type PageReadiness =
  | { ok: true; isolated: boolean; serviceWorker: boolean }
  | { ok: false; reason: "file-protocol" | "reloading"; message: string };

const RELOAD_KEY = "amphi-coi-reload";

function controlled(timeoutMs: number): Promise<boolean> {
  if (navigator.serviceWorker.controller) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (value: boolean) => {
      clearTimeout(timer);
      navigator.serviceWorker.removeEventListener("controllerchange", onChange);
      resolve(value);
    };
    const onChange = () => done(true);
    const timer = setTimeout(() => done(!!navigator.serviceWorker.controller), timeoutMs);
    navigator.serviceWorker.addEventListener("controllerchange", onChange);
  });
}

/** Register the service worker (and reload once for isolation when needed) before booting. */
export async function prepareStaticPage(options: StaticPageOptions = {}): Promise<PageReadiness> {
  if (location.protocol === "file:") return { ok: false, reason: "file-protocol", message: FILE_PROTOCOL_MESSAGE };
  const isolated = () => globalThis.crossOriginIsolated === true;
  if (!options.serviceWorker || !("serviceWorker" in navigator) || !window.isSecureContext) {
    return { ok: true, isolated: isolated(), serviceWorker: false };
  }
  const url = new URL(options.serviceWorker, location.href);
  if (isolated()) {
    // COOP/COEP from the server: the service worker is only needed for `@file/` URLs, which
    // come with outputs, long after it is active: do not make the kernel wait for it.
    navigator.serviceWorker
      .register(url, { scope: new URL("./", url).pathname })
      .catch((error: unknown) => console.warn("amphikernel: the service worker could not be registered", error));
    return { ok: true, isolated: true, serviceWorker: !!navigator.serviceWorker.controller };
  }
  let registered = false;
  try {
    const registration = navigator.serviceWorker.register(url, { scope: new URL("./", url).pathname });
    if (!navigator.serviceWorker.controller) await registration;
    else registration.catch((error: unknown) => console.warn("amphikernel: service worker update failed", error));
    registered = true;
  } catch (error) {
    console.warn("amphikernel: the service worker could not be registered", error);
  }
  if (!registered) return { ok: true, isolated: isolated(), serviceWorker: false };
  const isControlled = await controlled(options.controlTimeoutMs ?? 4000);
  if (!isolated() && isControlled && options.isolate !== false) {
    // Controlled now, but this document was loaded without COOP/COEP: once, reload so the
    // service worker's headers apply.
    if (sessionStorage.getItem(RELOAD_KEY) !== location.href) {
      sessionStorage.setItem(RELOAD_KEY, location.href);
      location.reload();
      return { ok: false, reason: "reloading", message: "Enabling cross-origin isolation…" };
    }
  }
  if (isolated()) sessionStorage.removeItem(RELOAD_KEY);
  return { ok: true, isolated: isolated(), serviceWorker: isControlled };
}
