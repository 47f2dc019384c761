/**
 * The agent's fence against a control plane that is no longer in charge: every command carries
 * the term (epoch) of the serve that sends it, the agent remembers the newest it has obeyed (in a
 * file, so a restart keeps it) and refuses anything older. A serve that lost its term to a
 * standby can then no longer act on the host, even before it notices.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";

/** The newest epoch obeyed, kept in `file`. */
export class EpochGuard {
  private newest: number;

  constructor(private readonly file: string) {
    const recorded = Number(readFileSafe(file));
    this.newest = Number.isSafeInteger(recorded) && recorded > 0 ? recorded : 0;
  }

  /** The newest epoch obeyed so far (0: none yet). */
  get current(): number {
    return this.newest;
  }

  /** Why a command of `epoch` is refused, or null when it may run (recording a newer epoch first). */
  admit(epoch: number): string | null {
    if (epoch < this.newest) return `this command comes from control-plane term ${epoch}, but term ${this.newest} has begun since: only the newest term may act on this host`;
    if (epoch > this.newest) {
      const aside = `${this.file}.new`;
      writeFileSync(aside, `${epoch}\n`, { mode: 0o600 });
      renameSync(aside, this.file);
      this.newest = epoch;
    }
    return null;
  }
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}
