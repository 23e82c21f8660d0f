// Outputs by MIME type, errors with tracebacks linking to cells, console text.
import type { CellError } from "../protocol.generated";
import type { UIStore } from "../ui/store";
import { renderUIElement, UI_MIME, type UISpec } from "../ui/elements";
import type { Widgets } from "../widgets/widgets";
import { renderAnsi } from "./ansi";
import { CHART_MIMES, PLOTLY_MIME } from "./charts";
import { renderHtml } from "./html";
import { renderJson } from "./json";
import { renderMarkdown } from "./markdown";

export const WIDGET_MIME = "application/vnd.jupyter.widget-view+json";

export interface RenderContext {
  ui: UIStore;
  widgets: Widgets;
  fileUrl(url: string): string;
  /** "cell 3" for a cell id (for traceback links). */
  cellLabel(cellId: string): string | null;
  reveal(cellId: string, line: number): void;
}

export interface Rendered {
  el: HTMLElement;
  dispose(): void;
}

// Charts come before text/html: Plotly's and Altair's bundles may carry HTML that loads the
// same libraries from a CDN.
const MIME_ORDER = [
  WIDGET_MIME,
  UI_MIME,
  ...CHART_MIMES,
  "text/html",
  "image/svg+xml",
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "text/markdown",
  "text/latex",
  "application/json",
  "text/plain",
];

function div(className: string): HTMLDivElement {
  const el = document.createElement("div");
  el.className = className;
  return el;
}

function bytesOf(value: unknown): Uint8Array | null {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return null;
}

function imageMeta(metadata: Record<string, unknown>, mime: string): { width?: number; height?: number; alt?: string } {
  const own = (metadata[mime] ?? {}) as Record<string, unknown>;
  const pick = (key: string) => {
    const v = own[key] ?? metadata[key];
    return typeof v === "number" && v > 0 ? v : undefined;
  };
  const alt = own.alt ?? metadata.alt;
  return { width: pick("width"), height: pick("height"), alt: typeof alt === "string" && alt ? alt : undefined };
}

function renderImage(mime: string, value: unknown, metadata: Record<string, unknown>): Rendered {
  const img = document.createElement("img");
  img.alt = "image output";
  img.decoding = "async";
  let url: string | null = null;
  const bytes = bytesOf(value);
  if (bytes) {
    url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mime }));
    img.src = url;
  } else if (typeof value === "string") {
    img.src = mime === "image/svg+xml"
      ? URL.createObjectURL(new Blob([value], { type: mime }))
      : `data:${mime};base64,${value.replace(/\s+/g, "")}`;
    if (img.src.startsWith("blob:")) url = img.src;
  }
  const { width, height, alt } = imageMeta(metadata, mime);
  if (alt) img.alt = alt;
  if (width) img.width = width;
  if (height) img.height = height;
  const el = div("image-output");
  el.appendChild(img);
  return { el, dispose: () => url && URL.revokeObjectURL(url) };
}

/** An output drawn asynchronously (widgets; charts, whose library is a chunk imported on
 * first use): `draw` resolves to its cleanup (called at once if the output is gone by then).
 * Until it settles the element is `aria-busy`; if it fails, a note and `fallback` (the rest of
 * the bundle) are shown instead. */
function renderLater(
  className: string,
  what: string,
  draw: (el: HTMLElement, signal: AbortSignal) => Promise<() => void>,
  fallback: () => Rendered,
): Rendered {
  const el = div(className);
  el.setAttribute("aria-busy", "true");
  const gone = new AbortController();
  let teardown: (() => void) | undefined;
  let shown: Rendered | undefined;
  draw(el, gone.signal)
    .then(
      (dispose) => {
        if (gone.signal.aborted) dispose();
        else teardown = dispose;
      },
      (error: unknown) => {
        if (gone.signal.aborted) return;
        const widget = what === "widget";
        (widget ? console.error : console.warn)(`${what} could not be shown`, error);
        const note = div(widget ? "widget-error" : "chart-error");
        note.textContent = `${what} could not be shown: ${error instanceof Error ? error.message : String(error)}`;
        shown = fallback();
        el.replaceChildren(note, shown.el);
      },
    )
    .finally(() => el.removeAttribute("aria-busy"));
  return {
    el,
    dispose: () => {
      gone.abort(new Error("disposed"));
      teardown?.();
      shown?.dispose();
    },
  };
}

/** Render one mimebundle, choosing the richest MIME type this page understands. */
export function renderMimeBundle(
  data: Record<string, unknown>,
  metadata: Record<string, unknown>,
  ctx: RenderContext,
): Rendered {
  const mime = MIME_ORDER.find((m) => m in data) ?? Object.keys(data).find((m) => m.startsWith("text/"));
  const value = mime ? data[mime] : undefined;
  const none = () => {};
  const rest = () => {
    const others = { ...data };
    delete others[mime as string];
    return renderMimeBundle(others, metadata, ctx);
  };
  if (mime && CHART_MIMES.includes(mime)) {
    const kind = mime === PLOTLY_MIME ? "plotly" : mime.includes("vegalite") ? "vega-lite" : "vega";
    const own = (metadata[mime] ?? {}) as Record<string, unknown>;
    return renderLater(
      `chart-output ${kind}-output`,
      `${kind} chart`,
      (el, signal) =>
        kind === "plotly"
          ? import("./lazy/plotly").then((m) => m.renderPlotly(el, value, signal))
          : import("./lazy/vega").then((m) => m.renderVega(el, value, kind, own)),
      rest,
    );
  }
  switch (mime) {
    case WIDGET_MIME: {
      const modelId = String((value as { model_id?: unknown })?.model_id ?? "");
      return renderLater("widget-output", "widget", (el) => ctx.widgets.render(modelId, el), rest);
    }
    case UI_MIME: {
      const el = div("ui-output");
      el.appendChild(renderUIElement(value as UISpec, ctx.ui));
      return { el, dispose: none };
    }
    case "text/html": {
      const el = div("html-container");
      const dispose = renderHtml(String(value ?? ""), el);
      return { el, dispose };
    }
    case "image/svg+xml":
    case "image/png":
    case "image/jpeg":
    case "image/gif":
    case "image/webp":
      return renderImage(mime, value, metadata);
    case "text/markdown": {
      const el = div("markdown-output");
      renderMarkdown(String(value ?? ""), el);
      return { el, dispose: none };
    }
    case "text/latex": {
      // Its text at once, typeset when the KaTeX chunk is in.
      const el = div("latex-output");
      const tex = String(value ?? "");
      el.textContent = tex;
      import("./lazy/katex")
        .then((katex) => katex.latex(tex, el))
        .catch((error: unknown) => console.warn("LaTeX could not be typeset", error));
      return { el, dispose: none };
    }
    case "application/json": {
      const el = div("json-output");
      renderJson(value, el);
      return { el, dispose: none };
    }
    case undefined: {
      const el = div("text-output muted");
      el.textContent = `[output of type ${Object.keys(data).join(", ") || "(empty)"}]`;
      return { el, dispose: none };
    }
    default: {
      const el = document.createElement("pre");
      el.className = "text-output";
      const text = typeof value === "string" ? value : JSON.stringify(value);
      renderAnsi(text, el);
      return { el, dispose: none };
    }
  }
}

/** A cell error: the message, the frames (cell frames link to the cell and line), the full traceback. */
export function renderError(error: CellError, ctx: RenderContext): HTMLElement {
  const el = div("error-output");
  el.setAttribute("role", "alert");
  const head = div("error-head");
  const name = document.createElement("strong");
  name.textContent = error.ename;
  head.append(name, error.evalue ? `: ${error.evalue}` : "");
  el.appendChild(head);
  const frames = error.frames ?? [];
  if (frames.length) {
    const list = document.createElement("ol");
    list.className = "traceback-frames";
    for (const frame of frames) {
      const li = document.createElement("li");
      const where = frame.cell_id ? ctx.cellLabel(frame.cell_id) : null;
      if (frame.cell_id && where) {
        const link = document.createElement("a");
        link.href = `#cell-${frame.cell_id}`;
        link.className = "traceback-link";
        link.textContent = `${where}, line ${frame.lineno}`;
        link.addEventListener("click", (event) => {
          event.preventDefault();
          ctx.reveal(frame.cell_id as string, frame.lineno);
        });
        li.appendChild(link);
      } else {
        const file = document.createElement("span");
        file.className = "traceback-file";
        file.textContent = `${frame.filename}:${frame.lineno}`;
        li.appendChild(file);
      }
      li.append(` in ${frame.name}`);
      if (frame.line) {
        const code = document.createElement("code");
        code.textContent = frame.line.trim();
        li.append(document.createElement("br"), code);
      }
      list.appendChild(li);
    }
    el.appendChild(list);
  }
  if (error.traceback && error.traceback.trim() !== `${error.ename}: ${error.evalue}`) {
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "Full traceback";
    const pre = document.createElement("pre");
    renderAnsi(error.traceback, pre);
    details.append(summary, pre);
    el.appendChild(details);
  }
  return el;
}

/** Text after a carriage return overwrites the line from its start, as in a terminal. */
function overwrite(line: string, text: string): string {
  if (!text.includes("\r")) return line + text;
  const parts = text.split("\r");
  let out = line + parts[0];
  for (const part of parts.slice(1)) out = part + out.slice(part.length);
  return out;
}

/** Console text of one stream: appended chunk by chunk, drawn once per animation frame,
 * collapsed to its last lines once long. */
export class ConsoleBlock {
  readonly el: HTMLElement;
  private readonly pre: HTMLPreElement;
  private readonly toggle: HTMLButtonElement;
  private readonly lines: string[] = [];
  private current = "";
  private dropped = 0;
  private frame: number | null = null;
  private expanded = false;
  static readonly COLLAPSE_LINES = 40;
  static readonly MAX_LINES = 50000;

  constructor(readonly stream: "stdout" | "stderr") {
    this.el = div(`console-output ${stream}`);
    this.pre = document.createElement("pre");
    this.toggle = document.createElement("button");
    this.toggle.type = "button";
    this.toggle.className = "console-toggle";
    this.toggle.hidden = true;
    this.toggle.addEventListener("click", () => {
      this.expanded = !this.expanded;
      this.draw();
    });
    this.el.append(this.pre, this.toggle);
  }

  append(text: string): void {
    const pieces = text.replace(/\r\n/g, "\n").split("\n");
    for (let i = 0; i < pieces.length - 1; i++) {
      this.lines.push(overwrite(this.current, pieces[i]));
      this.current = "";
    }
    this.current = overwrite(this.current, pieces[pieces.length - 1]);
    if (this.lines.length > ConsoleBlock.MAX_LINES) {
      const extra = this.lines.length - ConsoleBlock.MAX_LINES;
      this.lines.splice(0, extra);
      this.dropped += extra;
    }
    if (this.frame === null) {
      this.frame = requestAnimationFrame(() => {
        this.frame = null;
        this.draw();
      });
    }
  }

  private draw(): void {
    const count = this.lines.length + (this.current ? 1 : 0);
    const long = count > ConsoleBlock.COLLAPSE_LINES;
    const collapsed = long && !this.expanded;
    this.toggle.hidden = !long;
    this.toggle.textContent = !long ? "" : this.expanded ? "Show less" : `Show all ${count + this.dropped} lines`;
    this.toggle.setAttribute("aria-expanded", String(this.expanded));
    this.el.classList.toggle("collapsed", collapsed);
    const all = this.current ? [...this.lines, this.current] : this.lines;
    const shown = collapsed ? all.slice(-ConsoleBlock.COLLAPSE_LINES) : all;
    const head = this.dropped && !collapsed ? `[${this.dropped} earlier lines not kept]\n` : "";
    this.pre.replaceChildren();
    renderAnsi(head + shown.join("\n"), this.pre);
  }
}

