/**
 * The reverter (after Incus): every multi-step action pushes an undo after each step that
 * succeeded; on failure the undos run in reverse order, on success they are dropped. A failed
 * create therefore leaves no process, file or row behind. `attempt` runs each undo: core's reverters
 * retry one that meets a state database that is down until it is back (background.ts), so an
 * outage in the middle of a request does not leave its rows behind.
 */

type Undo = () => unknown | Promise<unknown>;
/** How one undo is run (by default: once). */
type Attempt = (what: string, undo: Undo) => unknown | Promise<unknown>;

/** Collects undo steps for one multi-step action. */
export class Reverter {
  private undos: { what: string; undo: Undo }[] = [];

  constructor(
    private readonly log: (msg: string, err: unknown) => void = () => {},
    private readonly attempt: Attempt = (_what, undo) => undo(),
  ) {}

  /** Register how to undo the step that just succeeded. */
  add(what: string, undo: Undo): void {
    this.undos.push({ what, undo });
  }

  /** The action succeeded: forget the undos. */
  success(): void {
    this.undos = [];
  }

  /** The action failed: undo every registered step, newest first; undo failures are logged, not thrown. */
  async revert(): Promise<void> {
    const undos = this.undos.reverse();
    this.undos = [];
    for (const { what, undo } of undos) {
      try {
        await this.attempt(what, undo);
      } catch (err) {
        this.log(`revert: undoing '${what}' failed`, err);
      }
    }
  }

  /** Run `fn` with this reverter: revert and rethrow when it throws, drop the undos when it returns. */
  async run<T>(fn: (r: Reverter) => Promise<T>): Promise<T> {
    try {
      const out = await fn(this);
      this.success();
      return out;
    } catch (err) {
      await this.revert();
      throw err;
    }
  }
}
