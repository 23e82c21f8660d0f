// Pieces both views use: DOM helper (from ../dom), icons, kernel status indicator, connection banner, toasts,
// the render context.
import type { RenderContext } from "../render/output";
import type { KernelState, Session } from "../session";

import { el } from "../dom";

export { el };

const ICONS: Record<string, string> = {
  run: "M4 2.5v11l9-5.5z",
  runAll: "M2 2.5v11l6-5.5zM8 2.5v11l6-5.5z",
  stop: "M3.5 3.5h9v9h-9z",
  restart: "M8 2.5a5.5 5.5 0 1 0 5.3 7h-1.7A4 4 0 1 1 8 4v2.5l3.5-3.25L8 0z",
  up: "M8 3l5 6H9.5v4h-3V9H3z",
  down: "M8 13l5-6H9.5V3h-3v4H3z",
  trash: "M5 2h6l.5 1.5H14V5H2V3.5h2.5zM3.5 6h9l-.8 8H4.3z",
  plus: "M7 2h2v5h5v2H9v5H7V9H2V7h5z",
  save: "M2.5 2h9l2.5 2.5v9.5h-11.5zM5 2.5v3.5h5.5V2.5zM4.5 9h7v4.5h-7z",
  text: "M3 3h10v2.2h-1.5V4.5H8.8v7.5h1.7v1.5h-5V12h1.7V4.5H4.5v.7H3z",
  code: "M5.5 4L1.5 8l4 4 1-1-3-3 3-3zm5 0l-1 1 3 3-3 3 1 1 4-4z",
};

const ICON_TEMPLATES = new Map<string, SVGSVGElement>();

/** An icon (a clone of one built once per name: a 1,000-cell notebook shows 6,000). */
export function icon(name: keyof typeof ICONS): SVGSVGElement {
  let template = ICON_TEMPLATES.get(name);
  if (!template) ICON_TEMPLATES.set(name, (template = buildIcon(name)));
  return template.cloneNode(true) as SVGSVGElement;
}

function buildIcon(name: keyof typeof ICONS): SVGSVGElement {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "16");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name]);
  path.setAttribute("fill", "currentColor");
  svg.appendChild(path);
  return svg;
}

/** A button with an icon and a label (the label hides on narrow screens, aria-label stays). */
export function button(
  name: keyof typeof ICONS,
  label: string,
  onClick: () => void,
  options: { className?: string; title?: string; showLabel?: boolean } = {},
): HTMLButtonElement {
  const b = el("button", {
    type: "button",
    class: `btn ${options.className ?? ""}`.trim(),
    "aria-label": label,
    title: options.title ?? label,
  });
  b.append(icon(name));
  if (options.showLabel !== false) b.append(el("span", { class: "btn-label" }, label));
  b.addEventListener("click", (event) => {
    event.stopPropagation();
    onClick();
  });
  return b;
}

const KERNEL_TEXT: Record<KernelState, string> = {
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  starting: "Starting kernel…",
  idle: "Idle",
  busy: "Busy",
  dead: "Kernel dead",
  closed: "Disconnected",
};

/** The kernel status pill: connecting, idle, busy, dead (+ restart in edit mode). */
export function kernelIndicator(session: Session): HTMLElement {
  const pill = el("span", { class: "kernel-status", role: "status", "aria-live": "polite" });
  const dot = el("span", { class: "kernel-dot", "aria-hidden": "true" });
  const text = el("span", { class: "kernel-text" });
  pill.append(dot, text);
  const update = (state: KernelState) => {
    pill.dataset.state = state;
    text.textContent = KERNEL_TEXT[state];
    pill.title = state === "dead" && session.kernelDead?.reason ? `Kernel dead: ${session.kernelDead.reason}` : KERNEL_TEXT[state];
  };
  session.on("kernel", update);
  update(session.kernelState);
  return pill;
}

/**
 * A banner shown while another program has changed the notebook file on disk: the server
 * refuses to save over that change until this tab reloads the file or overwrites it.
 */
export function diskBanner(session: Session, overwrite: () => void): HTMLElement {
  const banner = el("div", { class: "disk-banner", role: "alert", hidden: true });
  banner.dataset.state = "disk";
  const update = () => {
    const change = session.diskChange;
    banner.replaceChildren();
    if (change) {
      banner.append(
        change.deleted
          ? "The notebook file was removed from disk by another program. "
          : "The notebook file was changed on disk by another program. ",
      );
      if (change.error) banner.append(el("span", { class: "disk-error" }, `(${change.error}) `));
      const reload = el("button", { type: "button", class: "btn small", "data-action": "reload" }, "Reload from disk");
      reload.title = "Replace the cells here (unsaved edits too) with the file on disk";
      reload.addEventListener("click", () => session.reloadFromDisk());
      const write = el("button", { type: "button", class: "btn small", "data-action": "overwrite" }, "Overwrite");
      write.title = "Save the cells shown here over the file on disk";
      write.addEventListener("click", overwrite);
      if (!change.deleted) banner.append(reload, " ");
      banner.append(write);
    }
    banner.hidden = change === null;
  };
  session.on("disk", update);
  update();
  return banner;
}

/** A banner for a lost connection or a dead kernel. */
export function connectionBanner(session: Session, retry: () => void): HTMLElement {
  const banner = el("div", { class: "banner", role: "alert", hidden: true });
  const update = () => {
    const state = session.kernelState;
    banner.replaceChildren();
    banner.dataset.state = state;
    if (state === "reconnecting") {
      const wait = session.transportStatus.retryIn;
      banner.append(`Connection lost. Reconnecting${wait ? ` in ${Math.ceil(wait / 1000)} s` : "…"} `);
      const b = el("button", { type: "button", class: "btn small" }, "Retry now");
      b.addEventListener("click", retry);
      banner.append(b);
    } else if (state === "closed") {
      banner.append(`Disconnected${session.transportStatus.error ? `: ${session.transportStatus.error}` : ""}. Reload the page to reconnect.`);
    } else if (state === "dead") {
      banner.append(`The kernel died${session.kernelDead?.reason ? ` (${session.kernelDead.reason})` : ""}. `);
      if (session.mode === "edit") {
        const b = el("button", { type: "button", class: "btn small" }, "Restart kernel");
        b.addEventListener("click", () => session.restart());
        banner.append(b);
      }
    }
    banner.hidden = banner.childNodes.length === 0;
  };
  session.on("kernel", update);
  update();
  return banner;
}

/**
 * The boot progress line: what the host is doing while the kernel is not connected yet (the
 * Pyodide worker loading Python), with a progress bar when the fraction is known.  Hidden
 * once connected.
 */
export function bootProgress(session: Session): HTMLElement {
  const line = el("div", { class: "boot-progress", role: "status", "aria-live": "polite", hidden: true });
  const text = el("span", { class: "boot-progress-text" });
  const bar = el("progress", { class: "boot-progress-bar", max: 1 });
  line.append(text, bar);
  const update = () => {
    const status = session.transportStatus;
    const booting = status.state === "connecting" && !!status.stage;
    line.hidden = !booting;
    if (!booting) return;
    const fraction = status.progress;
    text.textContent = `${status.stage}…${fraction !== undefined ? ` ${Math.round(fraction * 100)}%` : ""}`;
    if (fraction !== undefined) bar.value = fraction;
    else bar.removeAttribute("value");
  };
  session.on("kernel", update);
  update();
  return line;
}

/** Save a text file through the browser's download (no server involved). */
export function downloadText(filename: string, content: string, type = "text/x-python;charset=utf-8"): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = el("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Transient messages (kernel errors, save failures). */
export function toasts(session: Session): HTMLElement {
  const box = el("div", { class: "toasts", role: "log", "aria-live": "polite" });
  session.on("toast", (toast) => {
    const item = el("div", { class: `toast ${toast.level}` }, toast.text);
    const close = el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
    close.addEventListener("click", () => item.remove());
    item.append(close);
    box.append(item);
    while (box.childElementCount > 4) box.firstElementChild?.remove();
    setTimeout(() => item.remove(), toast.level === "error" ? 10000 : 5000);
  });
  return box;
}

export function renderContext(session: Session): RenderContext {
  return {
    ui: session.ui,
    widgets: session.widgets,
    fileUrl: (url) => session.transport.fileUrl(url),
    cellLabel: (id) => {
      const i = session.index(id);
      return i < 0 ? null : `cell ${i + 1}`;
    },
    reveal: (id, line) => session.reveal(id, line),
  };
}

export function basename(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

export function formatSeconds(seconds: number): string {
  if (seconds < 1) return `${Math.max(0, Math.round(seconds * 1000))} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60);
  return `${m}m ${Math.round(seconds - m * 60)}s`;
}
