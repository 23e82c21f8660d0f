// Virtual files of kernels running in Web Workers, for the site's service worker (sw.js):
// it posts `{type: "amphi-file", url}` with a MessagePort to the page that asked for an
// `@file/...` URL; the page asks each kernel worker it hosts until one has the file, and
// answers on the port.
//
// Downloads: Chromium does not route `<a download>` navigations through service workers, so a
// click on a download link to a virtual file is handled here: the page fetches the file (through
// the service worker when it controls the page, else straight from the kernel) and saves it
// under the link's `download` name.
import type { FileReply } from "./worker-contract";

export type FileSource = (url: string) => Promise<FileReply>;

const sources = new Set<FileSource>();
let listening = false;

async function answer(url: string, port: MessagePort): Promise<void> {
  let reply: FileReply = { found: false, reason: "no kernel on this page has that file" };
  for (const source of [...sources]) {
    try {
      const candidate = await source(url);
      if (candidate.found) {
        reply = candidate;
        break;
      }
    } catch (error) {
      reply = { found: false, reason: String(error) };
    }
  }
  port.postMessage(reply, reply.found ? [reply.data.buffer] : []);
  port.close();
}

function listen(): void {
  if (listening || typeof navigator === "undefined" || !("serviceWorker" in navigator)) return;
  listening = true;
  navigator.serviceWorker.addEventListener("message", (event: MessageEvent) => {
    const data = event.data as { type?: string; url?: string } | null;
    if (data?.type !== "amphi-file" || typeof data.url !== "string" || !event.ports[0]) return;
    void answer(data.url, event.ports[0]);
  });
  navigator.serviceWorker.startMessages();
}

async function lookup(url: string): Promise<FileReply> {
  for (const source of [...sources]) {
    const reply = await source(url);
    if (reply.found) return reply;
  }
  return { found: false };
}

async function fetchBlob(link: URL): Promise<Blob | null> {
  if (navigator.serviceWorker?.controller) {
    const response = await fetch(link);
    return response.ok ? response.blob() : null;
  }
  const at = link.pathname.indexOf("/@file/");
  const reply = await lookup(link.pathname.slice(at + 1));
  return reply.found ? new Blob([reply.data as Uint8Array<ArrayBuffer>], { type: reply.mimetype }) : null;
}

function save(href: string, name: string): void {
  const link = document.createElement("a");
  link.href = href;
  link.download = name;
  link.dataset.amphiDirect = "";
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
}

let downloads = false;

function interceptDownloads(): void {
  if (downloads || typeof document === "undefined") return;
  downloads = true;
  document.addEventListener(
    "click",
    (event: MouseEvent) => {
      const target = event.target instanceof Element ? event.target.closest("a[download]") : null;
      if (!(target instanceof HTMLAnchorElement) || event.defaultPrevented || "amphiDirect" in target.dataset) return;
      const link = new URL(target.href, location.href);
      if (link.origin !== location.origin || !link.pathname.includes("/@file/")) return;
      event.preventDefault();
      const name = target.download || decodeURIComponent(link.pathname.split("/").pop() ?? "download");
      fetchBlob(link)
        .then((blob) => {
          if (!blob) {
            save(link.href, name); // not in a kernel: maybe a file of the site itself
            return;
          }
          const objectUrl = URL.createObjectURL(blob);
          save(objectUrl, name);
          setTimeout(() => URL.revokeObjectURL(objectUrl), 60_000);
        })
        .catch((error: unknown) => console.warn("amphikernel: download failed", error));
    },
    true,
  );
}

/** Serve virtual files from `source` (a kernel worker) to the service worker and to download
 * links; returns the function that stops it. */
export function addFileSource(source: FileSource): () => void {
  listen();
  interceptDownloads();
  sources.add(source);
  return () => sources.delete(source);
}
