// Lazy CodeMirror editors for big notebooks.
//
// Creating a CodeMirror EditorView reads the document selection and measures its own DOM,
// which forces a layout of the whole page: in a 1,000-cell notebook, creating every editor
// up front costs O(cells²) and took ~17 s before the first paint.  So in a notebook with more
// than EAGER_LIMIT cells a code cell first shows its source as plain text (same font, size and
// line height as the editor) and gets its editor when it comes near the viewport (below),
// or at once when the user clicks it, focuses it, or a command needs the editor
// (run-and-advance, reveal a line).  Small notebooks create every
// editor at once, as before.
//
// Which cells are near: the list's cells are in groups of ~40 (views/notebook.ts) and each
// group has `content-visibility: auto` (styles.css), so the browser already tracks which
// groups it renders; the scheduler follows that through the
// `contentvisibilityautostatechange` event on the groups instead of a second
// IntersectionObserver over every cell (an observer with ~1,000 targets recomputes every one
// of them in each frame while outputs stream: measured 5-20 ms a frame here; the browser's
// own tracking of 1,000 `content-visibility: auto` cells cost 1.2-1.7 ms a frame, hence the
// groups).  Without that event (older
// browsers) an IntersectionObserver with a 1200px margin does the same job.
//
// Cells that come near are not built at once: they are queued and built after the next
// frame, in idle time (requestIdleCallback, else timer tasks) at most SLICE_MS of them per
// task, and not while the user types (QUIET_MS after the last key): the first paint of a
// big notebook shows every cell shell before any editor is made, and neither scrolling nor
// typing waits behind editor creations.  The stand-in looks like the editor, so a later
// editor changes nothing on screen.

/** Notebooks with at most this many cells create every editor at once. */
export const EAGER_LIMIT = 60;

/** Milliseconds of queued editor creation per task. */
export const SLICE_MS = 6;

/** Milliseconds after the last key press before queued editors are built again. */
export const QUIET_MS = 300;

const CV_EVENT = "contentvisibilityautostatechange";

type IdleWindow = {
  requestIdleCallback?: (callback: (deadline: { timeRemaining(): number }) => void, options?: { timeout: number }) => number;
};

/** Calls a cell's `create` once the cell comes near the viewport (paced: see above). */
export class EditorScheduler {
  private observer: IntersectionObserver | null = null;
  private readonly pending = new Map<Element, () => void>();
  /** Near the viewport, waiting for their turn (in the order they came near). */
  private readonly ready = new Map<Element, () => void>();
  private pumping = false;
  private disposed = false;
  /** The list whose `content-visibility: auto` children (groups of cells) are watched
   * through CV_EVENT, and those of them the browser renders now. */
  private list: HTMLElement | null = null;
  private readonly rendered = new WeakSet<Element>();
  private lastKey = -Infinity;
  private readonly onKey = (): void => {
    this.lastKey = performance.now();
  };
  private readonly onVisibility = (event: Event): void => {
    const group = event.target as Element;
    if (group.parentElement !== this.list) return;
    if ((event as Event & { skipped?: boolean }).skipped) {
      // Left the rendered range before their turn: wait for them to come back.
      this.rendered.delete(group);
      for (const cell of group.children) this.wait(cell);
      return;
    }
    this.rendered.add(group);
    for (const cell of group.children) this.promote(cell);
    this.schedule();
  };

  constructor(private readonly rootMargin = "1200px 0px") {
    document.addEventListener("keydown", this.onKey, { capture: true, passive: true });
  }

  /**
   * Watch the cells in the direct children of `list` (groups of cells, which must have
   * `content-visibility: auto`) through the browser's skipping instead of an
   * IntersectionObserver, where the browser has the event.  Call before watching them, and
   * call placed() whenever a watched cell is put into a group.  Returns whether the event is
   * used.
   */
  followContentVisibility(list: HTMLElement): boolean {
    if (this.list) return true;
    if (!("ContentVisibilityAutoStateChangeEvent" in globalThis)) return false;
    this.list = list;
    // The event does not bubble: a capturing listener on the list sees it on every cell.
    list.addEventListener(CV_EVENT, this.onVisibility, true);
    return true;
  }

  /** Run `create` when `target` is near the viewport (at once without a way to tell). */
  watch(target: Element, create: () => void): void {
    if (this.list) {
      this.pending.set(target, create);
      this.placed(target);
      return;
    }
    if (!this.observer && typeof IntersectionObserver === "function") {
      this.observer = new IntersectionObserver((entries) => this.seen(entries), { rootMargin: this.rootMargin });
    }
    if (!this.observer) {
      create();
      return;
    }
    this.pending.set(target, create);
    this.observer.observe(target);
  }

  /** Run `create` soon: after the next frame, paced like the cells that come near. */
  soon(target: Element, create: () => void): void {
    if (this.pending.delete(target)) this.observer?.unobserve(target);
    this.ready.set(target, create);
    this.schedule();
  }

  /** `target` (a watched cell) was put into a group: it is near if that group is rendered. */
  placed(target: Element): void {
    if (!this.list) return;
    const group = target.parentElement;
    if (group && this.rendered.has(group)) {
      this.promote(target);
      this.schedule();
    } else {
      this.wait(target);
    }
  }

  private promote(cell: Element): void {
    const create = this.pending.get(cell);
    if (!create) return;
    this.pending.delete(cell);
    this.ready.set(cell, create);
  }

  private wait(cell: Element): void {
    const create = this.ready.get(cell);
    if (!create) return;
    this.ready.delete(cell);
    this.pending.set(cell, create);
  }

  /** Stop watching `target` (its editor was made another way, or the cell is gone). */
  forget(target: Element): void {
    this.ready.delete(target);
    if (this.pending.delete(target)) this.observer?.unobserve(target);
  }

  private seen(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const create = this.pending.get(entry.target);
      if (!create) continue;
      this.forget(entry.target);
      this.ready.set(entry.target, create);
    }
    this.schedule();
  }

  private schedule(): void {
    if (!this.ready.size || this.pumping || this.disposed) return;
    this.pumping = true;
    // After the next frame: what is on screen is painted before editors are built.
    requestAnimationFrame(() => this.later(0));
  }

  /** Run pump() after `delay` ms, in idle time where the browser has it. */
  private later(delay: number): void {
    const idle = (window as IdleWindow).requestIdleCallback;
    const run = () => {
      if (idle) idle((deadline) => this.pump(deadline.timeRemaining()), { timeout: 1000 });
      else this.pump(SLICE_MS);
    };
    if (delay > 0) setTimeout(run, delay);
    else if (idle) run();
    else setTimeout(run, 0);
  }

  private pump(budget: number): void {
    if (this.disposed) return;
    const quiet = performance.now() - this.lastKey;
    if (quiet < QUIET_MS) {
      this.later(QUIET_MS - quiet);
      return;
    }
    const start = performance.now();
    const slice = Math.max(1, Math.min(SLICE_MS, budget));
    for (const [target, create] of this.ready) {
      this.ready.delete(target);
      try {
        create();
      } catch (error) {
        console.error("making a cell's editor failed", error);
      }
      if (performance.now() - start >= slice) break;
    }
    if (this.ready.size) this.later(0);
    else this.pumping = false;
  }

  dispose(): void {
    this.disposed = true;
    this.observer?.disconnect();
    this.list?.removeEventListener(CV_EVENT, this.onVisibility, true);
    document.removeEventListener("keydown", this.onKey, true);
    this.pending.clear();
    this.ready.clear();
  }
}

/** The plain-text stand-in of a code cell's editor: a line-number gutter and the source. */
export function staticCode(source: string, placeholder: string, activate: (x: number, y: number) => void): HTMLElement {
  const lines = source === "" ? 1 : source.split("\n").length;
  const gutter = document.createElement("div");
  gutter.className = "cell-code-static-gutter";
  gutter.setAttribute("aria-hidden", "true");
  gutter.textContent = Array.from({ length: lines }, (_, i) => String(i + 1)).join("\n");
  const code = document.createElement("pre");
  code.className = "cell-code-static-text";
  if (source === "") {
    code.classList.add("placeholder");
    code.textContent = placeholder;
  } else {
    code.textContent = source;
  }
  const host = document.createElement("div");
  host.className = "cell-code-static";
  host.tabIndex = 0;
  host.setAttribute("role", "textbox");
  host.setAttribute("aria-label", "Code of cell");
  host.append(gutter, code);
  host.addEventListener("mousedown", (event) => {
    event.preventDefault();
    activate(event.clientX, event.clientY);
  });
  host.addEventListener("focus", () => activate(-1, -1));
  return host;
}
