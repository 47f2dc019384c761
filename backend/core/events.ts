/**
 * In-process notifications of state changes, so `wait` long-polls return the moment an
 * instance or volume reaches a state instead of polling the database.
 */
import { EventEmitter } from "node:events";

const ANY = Symbol("any state change");

/** Emits `instance:<uuid>` and `volume:<uuid>` with the new state, and every announcement to `onAny` listeners. */
export class StateEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Many concurrent waiters on one resource are normal (e.g. five branches of one source).
    this.emitter.setMaxListeners(0);
  }

  /** Announce that a resource changed state. */
  emit(kind: "instance" | "volume", uuid: string, state: string): void {
    this.emitter.emit(`${kind}:${uuid}`, state);
    this.emitter.emit(ANY, kind, uuid, state);
  }

  /** Call `listener` on every announcement (what the metrics observe); returns its removal. */
  onAny(listener: (kind: "instance" | "volume", uuid: string, state: string) => void): () => void {
    this.emitter.on(ANY, listener);
    return () => this.emitter.off(ANY, listener);
  }

  /**
   * Resolve with the first state for which `done(state)` holds, checking `current()` first;
   * resolve with null after `timeoutMs` or when `signal` aborts.
   */
  waitFor(
    kind: "instance" | "volume",
    uuid: string,
    current: () => string | null,
    done: (state: string | null) => boolean,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<string | null> {
    return new Promise((resolve) => {
      const key = `${kind}:${uuid}`;
      const finish = (value: string | null) => {
        clearTimeout(timer);
        this.emitter.off(key, onState);
        signal?.removeEventListener("abort", onAbort);
        resolve(value);
      };
      const onState = () => {
        const s = current();
        if (done(s)) finish(s);
      };
      const onAbort = () => finish(null);
      const timer = setTimeout(() => finish(null), timeoutMs);
      this.emitter.on(key, onState);
      signal?.addEventListener("abort", onAbort);
      onState();
    });
  }
}
