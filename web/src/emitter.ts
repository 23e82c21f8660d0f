/** A tiny typed event emitter: `on(type, cb)` returns the unsubscribe function. */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly handlers = new Map<keyof Events, Set<(payload: never) => void>>();

  on<K extends keyof Events>(type: K, callback: (payload: Events[K]) => void): () => void {
    let set = this.handlers.get(type);
    if (!set) {
      set = new Set();
      this.handlers.set(type, set);
    }
    set.add(callback as (payload: never) => void);
    return () => set.delete(callback as (payload: never) => void);
  }

  emit<K extends keyof Events>(type: K, payload: Events[K]): void {
    const set = this.handlers.get(type);
    if (!set) return;
    for (const callback of [...set]) {
      try {
        (callback as (payload: Events[K]) => void)(payload);
      } catch (error) {
        console.error(`amphikernel: ${String(type)} handler failed`, error);
      }
    }
  }
}
