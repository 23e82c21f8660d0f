// Lazy CodeMirror editors for big notebooks.
//
// Creating a CodeMirror EditorView reads the document selection and measures its own DOM,
// which forces a layout of the whole page: in a 1,000-cell notebook, creating every editor
// up front costs O(cells²) and took ~17 s before the first paint.  So in a notebook with more
// than EAGER_LIMIT cells a code cell first shows its source as plain text (same font, size and
// line height as the editor) and gets its editor when it comes within ~1.5 screens of the
// viewport (IntersectionObserver), or at once when the user clicks it, focuses it, or a
// command needs the editor (run-and-advance, reveal a line).  Small notebooks create every
// editor at once, as before.
//
// Cells that come near are not built in the observer's callback: they are queued and built
// after the next frame, a few milliseconds' worth per task (SLICE_MS), so the first paint of
// a big notebook shows every cell shell before any editor is made, and scrolling or typing
// never waits behind a screenful of editor creations.

/** Notebooks with at most this many cells create every editor at once. */
export const EAGER_LIMIT = 60;

/** Milliseconds of queued editor creation per task. */
export const SLICE_MS = 6;

/** Calls a cell's `create` once the cell comes near the viewport (paced: see above). */
export class EditorScheduler {
  private readonly observer: IntersectionObserver | null;
  private readonly pending = new Map<Element, () => void>();
  /** Near the viewport, waiting for their turn (in the order they came near). */
  private readonly ready = new Map<Element, () => void>();
  private pumping = false;
  private disposed = false;

  constructor(rootMargin = "1200px 0px") {
    this.observer =
      typeof IntersectionObserver === "function"
        ? new IntersectionObserver((entries) => this.seen(entries), { rootMargin })
        : null;
  }

  /** Run `create` when `target` is near the viewport (at once without IntersectionObserver). */
  watch(target: Element, create: () => void): void {
    if (!this.observer) {
      create();
      return;
    }
    this.pending.set(target, create);
    this.observer.observe(target);
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
    if (this.ready.size && !this.pumping) {
      this.pumping = true;
      // After the next frame: what is on screen is painted before editors are built.
      requestAnimationFrame(() => setTimeout(() => this.pump(), 0));
    }
  }

  private pump(): void {
    if (this.disposed) return;
    const start = performance.now();
    for (const [target, create] of this.ready) {
      this.ready.delete(target);
      try {
        create();
      } catch (error) {
        console.error("making a cell's editor failed", error);
      }
      if (performance.now() - start >= SLICE_MS) break;
    }
    if (this.ready.size) setTimeout(() => this.pump(), 0);
    else this.pumping = false;
  }

  dispose(): void {
    this.disposed = true;
    this.observer?.disconnect();
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
