/**
 * Progress of long operations (branches, clones, image builds) for people: on a terminal, a
 * spinner on stderr with the current phase and the time so far, replaced by one line when done;
 * elsewhere (pipes, CI) nothing, so scripts read clean output.
 */
import type { CliContext } from "../command-registry";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** A running spinner: set its phase, then finish it once. */
export interface Progress {
  phase(text: string): void;
  /** Replace the spinner by `✔ <label>: <text>` (or `✖` when `ok` is false). */
  done(text: string, ok?: boolean): void;
}

/** Start a spinner labelled `label` when stderr is a terminal; a silent one otherwise. */
export function progress(ctx: CliContext, label: string): Progress {
  if (!ctx.interactive) return { phase() {}, done() {} };
  const started = Date.now();
  let phase = "starting";
  let frame = 0;
  const draw = () => {
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    ctx.stderr(`\r\x1b[K${FRAMES[frame++ % FRAMES.length]} ${label}: ${phase} (${secs}s)`);
  };
  draw();
  const timer = setInterval(draw, 100);
  return {
    phase(text) {
      if (text === phase) return;
      phase = text;
      draw();
    },
    done(text, ok = true) {
      clearInterval(timer);
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      ctx.stderr(`\r\x1b[K${ok ? "✔" : "✖"} ${label}: ${text} (${secs}s)\n`);
    },
  };
}
