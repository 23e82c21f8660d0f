// Virtual files held by the page as `blob:` URLs, for pages that have no service worker to
// answer `@file/...` requests: documentation pages with islands (a service worker for a
// whole documentation site would have to cover every page and cross-origin-isolate it).
//
// The page asks the Pyodide session to push files (host command `push-virtual-files`); the
// session then sends every virtual file's bytes as a `virtual-file-data` frame right after
// creating it, before any output that names it, on the same ordered channel
// (pyodide_host/file_push.py).  This module:
//   * turns each file into a `blob:` URL (`receive`);
//   * substitutes those URLs for `@file/...` URLs in mimebundles before they are rendered
//     (`rewriteBundle`: HTML, Markdown, SVG, any string but text/plain and JSON), so an
//     `<img src="@file/...">` or `<a download href="@file/...">` works with no request to the
//     site and no 404, and resolves widget modules (`resolve`);
//   * revokes a URL when the kernel releases its file (`virtual-file` notice with `released`:
//     its cell re-ran or was deleted, which is also when the cell's outputs are replaced),
//     and all of them when a new kernel starts (`clear`).
// A file's URL thus lives exactly as long as the file, as with the local server.
//
// Outputs are untrusted.  The local server serves `@file/` with a sandboxing CSP; a `blob:`
// URL has no headers and, opened as a page, would run in the site's origin.  So files that a
// browser would run as a document are never given their own type: SVG becomes a `data:` URL
// (an image everywhere, an opaque origin if opened; Chromium refuses top-level `data:`
// navigations), HTML and XML become `text/plain` blobs (downloads keep their bytes; opened,
// they show their source).  The sanitiser (DOMPurify, render/html.ts) drops `blob:` and
// `data:` link URLs; a hook keeps exactly the URLs made here (`keepOurUrls`).
import DOMPurify from "dompurify";
import type { Incoming } from "./transport";

/** An `@file/<id>-<name>` URL (the name is percent-encoded, so this is all it can contain),
 * with the path or origin written before it, if any (`./@file/...`, `https://site/page/@file/...`):
 * the whole URL is replaced. */
const FILE_URL = /(?:[^\s"'<>()=;&,]*\/)?@file\/[A-Za-z0-9_.~%-]+/g;

/** MIME types whose strings are shown as text, never loaded: left as they are. */
const VERBATIM = new Set(["text/plain", "application/json"]);

/** HTML that render/html.ts shows in a sandboxed (opaque-origin) iframe, which cannot load the
 * page's `blob:` URLs: its files go in as `data:` URLs (files up to DATA_URL_LIMIT bytes). */
const SCRIPTED = /<script[\s>]/i;
export const DATA_URL_LIMIT = 1 << 20;

export interface VirtualFileData {
  type: "virtual-file-data";
  url: string;
  filename?: string;
  mimetype?: string;
  size?: number;
  data: Uint8Array;
}

/** The `@file/...` part of a URL, or null. */
export function fileKey(url: string): string | null {
  const at = url.indexOf("@file/");
  if (at < 0) return null;
  const key = url.slice(at).split(/[?#]/, 1)[0];
  return /^@file\/[A-Za-z0-9_.~%-]+$/.test(key) ? key : null;
}

/** The base MIME type (lowercase, no parameters). */
function baseType(mimetype: string): string {
  return mimetype.split(";", 1)[0].trim().toLowerCase();
}

/** A type a browser renders as a document that can run script (HTML, XHTML, XML, ...+xml). */
export function isActiveType(mimetype: string): boolean {
  const base = baseType(mimetype);
  return base === "text/html" || base.endsWith("/xml") || base.endsWith("+xml");
}

function dataUrl(data: Uint8Array, mimetype: string): string {
  let binary = "";
  for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
  return `data:${mimetype};base64,${btoa(binary)}`;
}

/** Every URL made by a live BlobFiles (the sanitiser hook keeps these). */
const ours = new Set<string>();
let hooked = false;

/** Let sanitised HTML keep the URLs made here (and no other `blob:`/`data:` link). */
function keepOurUrls(): void {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook("uponSanitizeAttribute", (_node, data) => {
    if (ours.has(data.attrValue)) data.forceKeepAttr = true;
  });
}

export class BlobFiles {
  /** `@file/...` -> `blob:` (or, for SVG, `data:`) URL. */
  private readonly urls = new Map<string, string>();
  /** `@file/...` -> bytes and the type to show them with (files up to DATA_URL_LIMIT bytes),
   * and the `data:` URLs made of them so far. */
  private readonly small = new Map<string, { data: Uint8Array; type: string; url?: string }>();

  constructor(
    private readonly createURL: (blob: Blob) => string = (blob) => URL.createObjectURL(blob),
    private readonly revokeURL: (url: string) => void = (url) => URL.revokeObjectURL(url),
  ) {
    keepOurUrls();
  }

  /** How many files are held. */
  get size(): number {
    return this.urls.size;
  }

  /** Hold a file's bytes; returns its URL (a file sent again replaces the old URL). */
  add(url: string, data: Uint8Array, mimetype = "application/octet-stream"): string {
    const key = fileKey(url) ?? url;
    this.release(key);
    let made: string;
    const type = baseType(mimetype) === "image/svg+xml" || !isActiveType(mimetype) ? mimetype : "text/plain;charset=utf-8";
    if (baseType(mimetype) === "image/svg+xml") made = dataUrl(data, type);
    else made = this.createURL(new Blob([data as Uint8Array<ArrayBuffer>], { type }));
    this.urls.set(key, made);
    ours.add(made);
    if (data.byteLength <= DATA_URL_LIMIT && !made.startsWith("data:")) this.small.set(key, { data, type });
    return made;
  }

  /** Forget a file and revoke its `blob:` URL. */
  release(url: string): void {
    const key = fileKey(url) ?? url;
    const made = this.urls.get(key);
    if (made === undefined) return;
    this.urls.delete(key);
    ours.delete(made);
    this.small.delete(key);
    if (made.startsWith("blob:")) this.revokeURL(made);
  }

  /** Revoke every URL (a new kernel: the old kernel's files are gone). */
  clear(): void {
    for (const key of [...this.urls.keys()]) this.release(key);
  }

  /** The `blob:` URL of a held `@file/...` URL, or null. */
  resolve(url: string): string | null {
    const key = fileKey(url);
    return key === null ? null : (this.urls.get(key) ?? null);
  }

  /** `text` with every held `@file/...` URL replaced by its `blob:` URL (`inline`: by a
   * `data:` URL where the file is small enough). */
  rewrite(text: string, inline = false): string {
    if (!this.urls.size || !text.includes("@file/")) return text;
    return text.replace(FILE_URL, (match) => (inline ? this.inlineUrl(match) : null) ?? this.resolve(match) ?? match);
  }

  private inlineUrl(url: string): string | null {
    const key = fileKey(url);
    const file = key === null ? undefined : this.small.get(key);
    if (!file) return null;
    file.url ??= dataUrl(file.data, file.type);
    return file.url;
  }

  /** A mimebundle (`data` of cell-output / update-display) with held `@file/` URLs replaced in
   * every string, nested ones too, except in text/plain and JSON (shown, not loaded).  Returns
   * the same object when nothing changed. */
  rewriteBundle<T extends Record<string, unknown> | undefined>(data: T): T {
    if (!data || !this.urls.size) return data;
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [mime, value] of Object.entries(data)) {
      const next =
        VERBATIM.has(mime) ? value
        : mime === "text/html" && typeof value === "string" && SCRIPTED.test(value) ? this.rewrite(value, true)
        : this.rewriteValue(value);
      if (next !== value) changed = true;
      out[mime] = next;
    }
    return (changed ? out : data) as T;
  }

  private rewriteValue(value: unknown): unknown {
    if (typeof value === "string") return this.rewrite(value);
    if (Array.isArray(value)) {
      const next = value.map((item) => this.rewriteValue(item));
      return next.some((item, i) => item !== value[i]) ? next : value;
    }
    if (value && typeof value === "object" && !ArrayBuffer.isView(value)) {
      let changed = false;
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        const next = this.rewriteValue(item);
        if (next !== item) changed = true;
        out[key] = next;
      }
      return changed ? out : value;
    }
    return value;
  }

  /** Take the messages about virtual files: `virtual-file-data` (hold the bytes) and
   * `virtual-file` with `released` (revoke).  Returns whether the message was one of them. */
  receive(message: Incoming): boolean {
    const note = message as { type?: unknown; url?: unknown; released?: unknown; data?: unknown; mimetype?: unknown };
    if (note.type === "virtual-file-data" && typeof note.url === "string" && note.data instanceof Uint8Array) {
      this.add(note.url, note.data, typeof note.mimetype === "string" && note.mimetype ? note.mimetype : undefined);
      return true;
    }
    if (note.type === "virtual-file" && typeof note.url === "string") {
      if (note.released === true) this.release(note.url);
      return true;
    }
    return false;
  }
}
