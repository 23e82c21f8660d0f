// Requests the kernel worker starts before the Pyodide loader would: the runtime's wasm and its
// standard library.  loadPyodide asks for them only once it runs, which is after pyodide.mjs
// has loaded and the memory snapshot's description has been checked (cold, a few hundred ms
// into the worker's life); the wasm is the largest download and its compile streams with it.
//
// `prefetch(urls)` starts the fetches and puts a one-shot hook in front of this worker's
// `fetch`: the first request for one of those URLs (Pyodide calls `fetch(url, {})`, no
// integrity, no other options) gets the response already on its way; every later request, and
// any request with options that matter, goes to the network as before.  A preload hint in the
// page would not do: a worker does not see the page's preloaded responses (a second download).

const pending = new Map<string, Promise<Response>>();
let installed = false;

function plain(init: RequestInit | undefined): boolean {
  if (!init) return true;
  return Object.entries(init).every(([, value]) => value === undefined);
}

/** Start fetching `urls` (absolute) now; the next `fetch` of each gets this response. */
export function prefetch(urls: string[]): void {
  if (typeof fetch !== "function") return;
  for (const url of urls) {
    const href = new URL(url).href;
    if (pending.has(href)) continue;
    const response = fetch(href);
    response.catch(() => {}); // whoever takes it sees the error
    pending.set(href, response);
  }
  if (installed) return;
  installed = true;
  const network = globalThis.fetch;
  globalThis.fetch = function (input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    if (pending.size && !(input instanceof Request) && plain(init)) {
      const href = new URL(String(input), self.location.href).href;
      const early = pending.get(href);
      if (early) {
        pending.delete(href);
        return early;
      }
    }
    return network.call(globalThis, input, init);
  } as typeof fetch;
}
