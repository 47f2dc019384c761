/**
 * Entry point of the `vmbranch` CLI: bundled into backend/dist/vmbranch.js, the `vmbranch` bin of
 * the vmbranch-server package. Owns the list of registered subcommands; to add one (e.g. `serve`),
 * write a CliCommand in its own file and register it in buildRegistry below.
 */
import { CommandRegistry, processContext } from "./command-registry";
import { imageCommand } from "./image-command";
import { serveCommand } from "./serve-command";

/** Every subcommand of the CLI. */
export function buildRegistry(): CommandRegistry {
  return new CommandRegistry().register(imageCommand).register(serveCommand);
}

/** Runs the CLI with `argv` (without node and script) and resolves with the exit status. */
export function main(argv: string[]): Promise<number> {
  return buildRegistry().dispatch(argv, processContext());
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`vmbranch: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
