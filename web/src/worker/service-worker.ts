// The site's service worker (built to sw.js, a classic script; register it from the site's
// root so its scope covers the pages).  Two jobs:
//
// 1. `@file/...` virtual files: a request whose path contains `/@file/` is answered from the
//    in-memory store of the kernel that produced it.  The service worker cannot reach the
//    kernel's Web Worker directly, so it asks the page (postMessage `{type: "amphi-file", url}`
//    with a MessagePort), which asks its worker (transport/files.ts); `<img src>`,
//    `<a download>` and anywidget ES module imports then work as with the local server.  A file
//    no open page knows is looked up on the site itself, else 404.
// 2. Cross-origin isolation on hosts that cannot send COOP/COEP headers: the npm
//    coi-serviceworker (imported below, unchanged) adds them.  It only has to see the
//    responses that need them: documents (COOP + COEP) and worker scripts (COEP); same-origin
//    subresources load under COEP without headers.  Every other request is left to the
//    browser (no respondWith), so the Pyodide runtime comes straight from the HTTP cache and
//    Chromium keeps its compiled-wasm cache (a response rebuilt in a service worker loses it).
//    Our fetch listener is registered first and stops the event for the requests it handles.

interface FileReply {
  found: boolean;
  data?: Uint8Array;
  mimetype?: string;
  reason?: string;
}

interface SWClient {
  id: string;
  postMessage(message: unknown, transfer: Transferable[]): void;
}

interface SWScope {
  location: { origin: string };
  clients: {
    get(id: string): Promise<SWClient | undefined>;
    matchAll(options: { type: "window"; includeUncontrolled?: boolean }): Promise<SWClient[]>;
  };
  addEventListener(type: "fetch", listener: (event: FetchEventLike) => void): void;
  importScripts(...urls: string[]): void;
}

interface FetchEventLike extends Event {
  request: Request;
  clientId: string;
  resultingClientId?: string;
  respondWith(response: Promise<Response>): void;
}

const sw = self as unknown as SWScope;
const MARK = "/@file/";
/** How long a page may take to answer (its kernel may be busy running a cell). */
const ANSWER_TIMEOUT_MS = 120_000;

function ask(client: SWClient, url: string): Promise<FileReply | null> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => {
      channel.port1.close();
      resolve(null);
    }, ANSWER_TIMEOUT_MS);
    channel.port1.onmessage = (event: MessageEvent<FileReply>) => {
      clearTimeout(timer);
      channel.port1.close();
      resolve(event.data);
    };
    client.postMessage({ type: "amphi-file", url }, [channel.port2]);
  });
}

async function candidates(event: FetchEventLike): Promise<SWClient[]> {
  if (event.clientId) {
    const client = await sw.clients.get(event.clientId);
    if (client) return [client];
  }
  // Navigations and downloads have no client: ask every open page of the site.
  return sw.clients.matchAll({ type: "window", includeUncontrolled: true });
}

async function serve(event: FetchEventLike, fileUrl: string): Promise<Response> {
  for (const client of await candidates(event)) {
    const reply = await ask(client, fileUrl);
    if (reply?.found && reply.data) {
      return new Response(reply.data as Uint8Array<ArrayBuffer>, {
        status: 200,
        headers: {
          "Content-Type": reply.mimetype || "application/octet-stream",
          "Content-Length": String(reply.data.byteLength),
          "Cache-Control": "no-store",
          "Cross-Origin-Resource-Policy": "same-origin",
          "Cross-Origin-Embedder-Policy": "require-corp",
          "Cross-Origin-Opener-Policy": "same-origin",
          "X-Content-Type-Options": "nosniff",
        },
      });
    }
  }
  try {
    const response = await fetch(event.request);
    if (response.ok) return response;
  } catch {
    // fall through to the 404 below
  }
  return new Response(`virtual file not found: ${fileUrl} (its kernel was restarted, or the page that made it is closed)\n`, {
    status: 404,
    headers: { "Content-Type": "text/plain; charset=utf-8", "Cross-Origin-Resource-Policy": "same-origin" },
  });
}

const NEEDS_HEADERS = new Set(["document", "iframe", "frame", "worker", "sharedworker"]);

sw.addEventListener("fetch", (event: FetchEventLike) => {
  const request = event.request;
  const url = new URL(request.url);
  const at = url.origin === sw.location.origin && request.method === "GET" ? url.pathname.indexOf(MARK) : -1;
  if (at >= 0) {
    event.stopImmediatePropagation();
    event.respondWith(serve(event, url.pathname.slice(at + 1)));
    return;
  }
  if (request.mode !== "navigate" && !NEEDS_HEADERS.has(request.destination)) {
    event.stopImmediatePropagation(); // the browser fetches it as if there were no service worker
  }
});

sw.importScripts("./coi-serviceworker.js");
