// The page's anywidget host as the first load has it.  The manager (./manager.ts: models,
// ES modules, views) is a chunk of its own, imported with the first widget message (a model's
// `open` comes before any view of it), so pages without widgets never load it.  Messages and
// calls are chained on the import, so the manager sees them in the order they came.
import type { WidgetModel as WidgetModelCommand, WidgetModelUpdate } from "../protocol.generated";
import type { WidgetManager } from "./manager";

export class Widgets {
  #manager: Promise<WidgetManager> | undefined;
  readonly #send: (message: WidgetModelCommand) => void;
  readonly #fileUrl: (url: string) => string;

  constructor(send: (message: WidgetModelCommand) => void, fileUrl: (url: string) => string) {
    this.#send = send;
    this.#fileUrl = fileUrl;
  }

  /** The manager (imported once; a failed import is retried on the next call). */
  #load(): Promise<WidgetManager> {
    this.#manager ??= import("./manager").then(
      (m) => new m.WidgetManager(this.#send, this.#fileUrl),
      (error: unknown) => {
        this.#manager = undefined;
        throw error;
      },
    );
    return this.#manager;
  }

  receive(note: WidgetModelUpdate): void {
    this.#load()
      .then((manager) => manager.receive(note))
      .catch((error: unknown) => console.error("widget message not handled", error));
  }

  /** Close every model (kernel restart, resynchronisation). */
  reset(): void {
    void this.#manager?.then((manager) => manager.reset(), () => {});
  }

  /** Render a view of model `id` into `el`; resolves to the function that removes it. */
  render(id: string, el: HTMLElement): Promise<() => void> {
    return this.#load().then((manager) => manager.render(id, el));
  }
}
