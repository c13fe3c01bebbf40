/** A listener for one event of an event map. */
export type Listener<T> = (payload: T) => void;

/**
 * A tiny typed event emitter: `on` returns an unsubscribe function.
 *
 * A listener that throws does not break the SDK's own bookkeeping or the other
 * listeners: its error is re-thrown on a microtask so it still reaches the page's
 * error reporting.
 */
export class TypedEmitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Subscribes `listener` to `event`; call the returned function to unsubscribe. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  /** Removes a listener added with {@link TypedEmitter.on}. */
  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  /** Removes every listener, of one event or of all. */
  removeAllListeners(event?: keyof Events): void {
    if (event === undefined) this.listeners.clear();
    else this.listeners.delete(event);
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        // Boundary: a UI listener's bug must not stop the call's event handling.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
