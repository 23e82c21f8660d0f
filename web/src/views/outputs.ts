// A cell's output area: outputs, console text and errors in arrival order.  When a re-run
// clears it, the area keeps its height until the run ends, so the page does not jump while
// new outputs stream in.  Outputs shown with a display id are re-rendered in place when an
// update for that id arrives.
import type { CellOutput } from "../protocol.generated";
import { ConsoleBlock, type RenderContext, type Rendered, renderError, renderMimeBundle } from "../render/output";
import type { OutputItem } from "../session";

interface Shown {
  wrapper: HTMLElement;
  rendered: Rendered;
}

export interface OutputAreaOptions {
  /** Show stdout/stderr (the app view hides them). */
  console: boolean;
}

export class OutputArea {
  readonly el: HTMLDivElement;
  private disposers: Array<() => void> = [];
  /** Outputs shown with a display id, by id. */
  private displays = new Map<string, Shown[]>();
  private lastConsole: ConsoleBlock | null = null;
  private holding = false;

  constructor(
    private readonly ctx: RenderContext,
    private readonly options: OutputAreaOptions,
  ) {
    this.el = document.createElement("div");
    this.el.className = "outputs";
  }

  get empty(): boolean {
    return this.el.childElementCount === 0;
  }

  /** Whether the area takes room: it has outputs, or keeps the room of outputs being replaced. */
  get occupied(): boolean {
    return !this.empty || this.holding;
  }

  append(item: OutputItem): void {
    if (item.kind === "console") {
      if (!this.options.console) return;
      const { stream, text } = item.message;
      if (!this.lastConsole || this.lastConsole.stream !== stream || this.el.lastElementChild !== this.lastConsole.el) {
        this.lastConsole = new ConsoleBlock(stream);
        this.el.appendChild(this.lastConsole.el);
      }
      this.lastConsole.append(text);
      this.changed();
      return;
    }
    this.lastConsole = null;
    if (item.kind === "error") {
      this.el.appendChild(renderError(item.message, this.ctx));
    } else {
      const wrapper = document.createElement("div");
      wrapper.className = `output ${item.message.kind === "result" ? "result" : "display"}`;
      const rendered = renderMimeBundle(item.message.data, item.message.metadata ?? {}, this.ctx);
      wrapper.appendChild(rendered.el);
      this.el.appendChild(wrapper);
      const displayId = item.message.display_id;
      if (displayId) {
        const shown = { wrapper, rendered };
        this.displays.set(displayId, [...(this.displays.get(displayId) ?? []), shown]);
        this.disposers.push(() => shown.rendered.dispose());
      } else {
        this.disposers.push(rendered.dispose);
      }
    }
    this.changed();
  }

  /** The outputs shown with `message.display_id` now show `message` (update-display). */
  update(message: CellOutput): void {
    for (const shown of this.displays.get(message.display_id ?? "") ?? []) {
      try {
        shown.rendered.dispose();
      } catch (error) {
        console.error("output cleanup failed", error);
      }
      shown.rendered = renderMimeBundle(message.data, message.metadata ?? {}, this.ctx);
      shown.wrapper.replaceChildren(shown.rendered.el);
    }
  }

  private changed(): void {
    this.el.classList.toggle("has-output", this.occupied);
  }

  /** Remove every output; with `hold`, keep the current height until settle(). */
  clear(hold: boolean): void {
    if (hold && !this.empty) {
      this.el.style.minHeight = `${this.el.getBoundingClientRect().height}px`;
      this.holding = true;
    }
    for (const dispose of this.disposers) {
      try {
        dispose();
      } catch (error) {
        console.error("output cleanup failed", error);
      }
    }
    this.disposers = [];
    this.displays.clear();
    this.lastConsole = null;
    this.el.replaceChildren();
    this.changed();
  }

  /** The run ended: let the area take its natural height. */
  settle(): void {
    if (!this.holding) return;
    this.holding = false;
    this.el.style.minHeight = "";
    this.changed();
  }

  dispose(): void {
    this.clear(false);
  }
}
