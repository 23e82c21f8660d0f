// HTML outputs.  Plain HTML is sanitised (DOMPurify) and inserted inline.  HTML that carries
// scripts runs in a sandboxed iframe (scripts allowed, opaque origin: no access to the page,
// its cookies or the kernel) that reports its height so it needs no scrollbar.  An <iframe>
// in an output (IPython's IFrame, YouTubeVideo...) is kept but always sandboxed the same way
// (never `allow-same-origin`, so even a page of this server cannot reach this one).
import DOMPurify from "dompurify";

const FRAME_SANDBOX = "allow-scripts allow-popups allow-forms allow-presentation";

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.nodeName !== "IFRAME") return;
  node.setAttribute("sandbox", FRAME_SANDBOX);
  node.setAttribute("referrerpolicy", "no-referrer");
  node.removeAttribute("srcdoc");
});

export function sanitize(html: string): string {
  return DOMPurify.sanitize(html, {
    ADD_TAGS: ["amphi-ui", "iframe"],
    ADD_ATTR: ["target", "allowfullscreen", "frameborder"],
    FORBID_TAGS: ["style"],
  });
}

const SCRIPTED = /<script[\s>]/i;

const RESIZER = `<script>(function(){var last=0;function post(){var h=Math.ceil(document.documentElement.getBoundingClientRect().height);if(h!==last){last=h;parent.postMessage({amphiFrameHeight:h},"*");}}
new ResizeObserver(post).observe(document.documentElement);addEventListener("load",post);post();})();</script>`;

const frames = new Set<HTMLIFrameElement>();
let listening = false;

function listen(): void {
  if (listening) return;
  listening = true;
  addEventListener("message", (event: MessageEvent) => {
    const height = (event.data as { amphiFrameHeight?: unknown } | null)?.amphiFrameHeight;
    if (typeof height !== "number") return;
    for (const frame of frames) {
      if (!frame.isConnected) {
        frames.delete(frame);
        continue;
      }
      if (frame.contentWindow === event.source) frame.style.height = `${Math.min(height, 4000)}px`;
    }
  });
}

/** Render an HTML output into `target`. */
export function renderHtml(html: string, target: HTMLElement): () => void {
  if (!SCRIPTED.test(html)) {
    target.innerHTML = sanitize(html);
    target.classList.add("html-output");
    return () => {};
  }
  listen();
  const frame = document.createElement("iframe");
  frame.className = "html-frame";
  frame.setAttribute("sandbox", "allow-scripts allow-popups allow-downloads");
  frame.setAttribute("title", "HTML output");
  frame.srcdoc = `<!doctype html><html><head><meta charset="utf-8"><style>body{margin:0;font:15px/1.5 system-ui,sans-serif;color:#1d232b}</style></head><body>${html}${RESIZER}</body></html>`;
  frame.style.height = "120px";
  frames.add(frame);
  target.appendChild(frame);
  return () => frames.delete(frame);
}
