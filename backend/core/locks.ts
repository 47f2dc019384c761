/**
 * One lock per instance and per volume (docs/architecture.md, "Rules of the code"): start, stop,
 * snapshot, branch, clone and delete of a resource run one at a time. Locks are in-process (one
 * `serve` per data dir). Several keys are taken in sorted order so two actions over the same keys
 * never deadlock.
 */

/** A keyed async mutex. */
export class Locks {
  private tails = new Map<string, Promise<void>>();

  /** Run `fn` while holding the locks of all `keys` (e.g. `instance:<uuid>`, `volume:<uuid>`). */
  async with<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const releases: (() => void)[] = [];
    try {
      for (const key of sorted) releases.push(await this.acquire(key));
      return await fn();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  /** Take the locks of `keys` and return their release; for actions whose lock outlives the call that took it. */
  async hold(keys: string[]): Promise<() => void> {
    const releases: (() => void)[] = [];
    for (const key of [...new Set(keys)].sort()) releases.push(await this.acquire(key));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const release of releases.reverse()) release();
    };
  }

  /** True when some action holds or waits for `key`. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  private async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    return () => {
      release();
      // Last holder out removes the entry so `busy` and the map stay accurate.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}

/** Lock key of an instance. */
export const instanceKey = (uuid: string) => `instance:${uuid}`;
/** Lock key of a volume. */
export const volumeKey = (uuid: string) => `volume:${uuid}`;
