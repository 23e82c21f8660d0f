// Values of the kernel's UI elements, shared by every view of an element, and the outgoing
// update queue: input events are coalesced so that each element has at most one update per
// animation frame (all elements changed in a frame go in one `update-ui-element`), and the
// last value set is always the last one sent.

type Listener = (value: unknown, origin: unknown) => void;

export class UIStore {
  private readonly values = new Map<string, unknown>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private pending = new Map<string, unknown>();
  private readonly lastSent = new Map<string, unknown>();
  private frame: number | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Number of update-ui-element messages sent (tests read it). */
  sent = 0;

  constructor(private readonly sendValues: (values: Record<string, unknown>) => void) {}

  has(id: string): boolean {
    return this.values.has(id);
  }

  get(id: string): unknown {
    return this.values.get(id);
  }

  /** Listen to value changes of one element; `origin` is what the setter passed (views skip their own). */
  subscribe(id: string, listener: Listener): () => void {
    let set = this.listeners.get(id);
    if (!set) {
      set = new Set();
      this.listeners.set(id, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (!set.size) this.listeners.delete(id);
    };
  }

  private notify(id: string, value: unknown, origin: unknown): void {
    for (const listener of [...(this.listeners.get(id) ?? [])]) listener(value, origin);
  }

  /** The kernel says the element has this value (`ui-element-value`, or a fresh render). */
  fromKernel(id: string, value: unknown): void {
    if (this.pending.has(id)) return; // the reader's newer value is on its way
    this.values.set(id, value);
    this.lastSent.delete(id);
    this.notify(id, value, "kernel");
  }

  /** The reader changed the element: update the other views now, send on the next frame. */
  set(id: string, value: unknown, origin: unknown, options: { immediate?: boolean } = {}): void {
    this.values.set(id, value);
    this.notify(id, value, origin);
    // A `change` after the `input` events of a drag repeats the value already on its way.
    if (!this.pending.has(id) && this.lastSent.has(id) && Object.is(this.lastSent.get(id), value)) return;
    this.pending.set(id, value);
    if (options.immediate) this.flush();
    else this.schedule();
  }

  private schedule(): void {
    if (this.frame === null && typeof requestAnimationFrame === "function") {
      this.frame = requestAnimationFrame(() => this.flush());
    }
    // Hidden tabs get no animation frames: a timer makes sure the value still goes out.
    if (this.timer === null) this.timer = setTimeout(() => this.flush(), 100);
  }

  /** Send every pending value now, in one message. */
  flush(): void {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    if (this.timer !== null) clearTimeout(this.timer);
    this.frame = null;
    this.timer = null;
    if (!this.pending.size) return;
    const values = Object.fromEntries(this.pending);
    for (const [id, value] of this.pending) this.lastSent.set(id, value);
    this.pending = new Map();
    this.sent += 1;
    this.sendValues(values);
  }

  reset(): void {
    this.values.clear();
    this.pending.clear();
    this.lastSent.clear();
  }
}
