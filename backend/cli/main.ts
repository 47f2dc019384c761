/**
 * Entry point of the `vmbranch` CLI: bundled into backend/dist/vmbranch.js, the `vmbranch` bin of
 * the vmbranch-server package. Owns the list of registered subcommands: the server's (`serve`,
 * `image`, `store`) and the people's commands on the SDK (`ls`, `tree`, `branch`, … in operator/); to add one,
 * write a CliCommand in its own file and register it in buildRegistry below.
 */
import { isMainThread, workerData } from "node:worker_threads";
import { isSessionInit, runSessionWorker } from "../store/postgres/session-worker";
import { agentCommand } from "./agent-command";
import { CommandRegistry, processContext } from "./command-registry";
import { doctorCommand } from "./doctor-command";
import { imageCommand } from "./image-command";
import { completeNames, completionCommand } from "./operator/completion-command";
import { instanceCommands } from "./operator/instance-commands";
import { volumeCommands } from "./operator/volume-commands";
import { hostCommands } from "./operator/host-commands";
import { serveCommand } from "./serve-command";
import { storeCommand } from "./store-command";

/** Every subcommand of the CLI. */
export function buildRegistry(): CommandRegistry {
  const registry = new CommandRegistry().register(imageCommand).register(serveCommand).register(agentCommand).register(doctorCommand).register(storeCommand);
  for (const c of [...instanceCommands, ...volumeCommands, ...hostCommands, completeNames]) registry.register(c);
  return registry.register(completionCommand(() => registry));
}

/** Runs the CLI with `argv` (without node and script) and resolves with the exit status. */
export function main(argv: string[]): Promise<number> {
  return buildRegistry().dispatch(argv, processContext());
}

if (!isMainThread && isSessionInit(workerData)) {
  // This bundle is also the worker thread of a serve's PostgreSQL session (store/postgres/session-db.ts).
  runSessionWorker(workerData);
} else if (require.main === module) {
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
