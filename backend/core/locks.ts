/**
 * The lock protocol (docs/architecture.md, "The lock protocol"): one lock per instance and per
 * volume, in-process (one `serve` per data dir). An operation takes every lock it needs in one
 * acquisition, in sorted key order (`instance:…` before `volume:…`), so two operations never wait
 * on each other in a cycle; it never takes another lock while holding some. It re-checks what it
 * decided from before acquiring (`withChecked`), and every wait has a deadline that ends in
 * LOCK_TIMEOUT (409) rather than a request that hangs.
 */
import { ApiError } from "./errors";

/** How long a request waits for the locks it needs. */
export const LOCK_WAIT_MS = 60_000;
/** How long background work (restores, clones, flattens) waits: it has no client to answer. */
export const BACKGROUND_LOCK_WAIT_MS = 30 * 60_000;

/** Options of one acquisition. */
export interface LockOptions {
  /** How long to wait for all the locks (default LOCK_WAIT_MS). */
  timeoutMs?: number;
}

/** A keyed async mutex with sorted, deadline-bound acquisition. */
export class Locks {
  private tails = new Map<string, Promise<void>>();

  constructor(private readonly defaultWaitMs = LOCK_WAIT_MS) {}

  /** Run `fn` while holding the locks of all `keys` (e.g. `instance:<uuid>`, `volume:<uuid>`). */
  async with<T>(keys: string[], fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
    const release = await this.hold(keys, opts);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Like `with`, for operations whose set of locks depends on the store (the volumes an instance
   * has, the VM that writes a volume): `keys` is computed, the locks taken, and `keys` computed
   * again; if the set changed meanwhile, the locks are given back and taken anew.
   */
  async withChecked<T>(keys: () => string[], fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
    const same = (a: string[], b: string[]) => a.length === b.length && a.every((k, i) => k === b[i]);
    for (let attempt = 0; ; attempt++) {
      const wanted = sortedUnique(keys());
      const release = await this.hold(wanted, opts);
      try {
        if (!same(wanted, sortedUnique(keys())) && attempt < 5) continue;
        return await fn();
      } finally {
        release();
      }
    }
  }

  /** `hold` for a set of locks that depends on the store: taken anew when it changed while waiting (see `withChecked`). */
  async holdChecked(keys: () => string[], opts: LockOptions = {}): Promise<() => void> {
    const same = (a: string[], b: string[]) => a.length === b.length && a.every((k, i) => k === b[i]);
    for (let attempt = 0; ; attempt++) {
      const wanted = sortedUnique(keys());
      const release = await this.hold(wanted, opts);
      if (same(wanted, sortedUnique(keys())) || attempt >= 5) return release;
      release();
    }
  }

  /** Take the locks of `keys` and return their release; for actions whose lock outlives the call that took it. */
  async hold(keys: string[], opts: LockOptions = {}): Promise<() => void> {
    const deadline = Date.now() + (opts.timeoutMs ?? this.defaultWaitMs);
    const releases: (() => void)[] = [];
    try {
      for (const key of sortedUnique(keys)) releases.push(await this.acquire(key, deadline));
    } catch (err) {
      for (const release of releases.reverse()) release();
      throw err;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const release of releases.reverse()) release();
    };
  }

  /** True when no action holds or waits for any lock. */
  idle(): boolean {
    return this.tails.size === 0;
  }

  /** True when some action holds or waits for `key`. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  private async acquire(key: string, deadline: number): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    const done = () => {
      release();
      // Last holder out removes the entry so `busy` and the map stay accurate.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), Math.max(0, deadline - Date.now())).unref()));
    const late = await Promise.race([previous.then(() => false as const), expired]);
    clearTimeout(timer);
    if (late) {
      // Our place in the queue is given up as soon as it comes, so those behind us are not stuck.
      void previous.then(done);
      throw new ApiError("LOCK_TIMEOUT", `Another operation on ${describeKey(key)} is still running; retry once it is done`);
    }
    return done;
  }
}

function sortedUnique(keys: string[]): string[] {
  return [...new Set(keys)].sort();
}

function describeKey(key: string): string {
  const [kind, id] = key.split(":");
  return `${kind === "volume" ? "volume" : "instance"} '${id}'`;
}

/** Lock key of an instance. */
export const instanceKey = (uuid: string) => `instance:${uuid}`;
/** Lock key of a volume. */
export const volumeKey = (uuid: string) => `volume:${uuid}`;
