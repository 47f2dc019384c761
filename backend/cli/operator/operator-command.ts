/**
 * The shape every people's command shares: usage with the connection flags, parsing, a client,
 * and failures turned into one line on stderr with a meaningful exit status (connection.ts).
 */
import type { ParseArgsConfig } from "node:util";
import type { VmbranchClient } from "vmbranch/sdk";
import { UsageError, type CliCommand, type CliContext } from "../command-registry";
import { clientFor, CONNECTION_USAGE, describeFailure, parseCommand } from "./connection";

/** What a command body gets: flags, positionals, a client (made on first use) and the context. */
export interface Invocation {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  json: boolean;
  client(): VmbranchClient;
  ctx: CliContext;
}

/** A people's command from its name, summary, usage lines, extra options and body (resolves with the exit status). */
export function operatorCommand(
  name: string,
  summary: string,
  usage: string[],
  options: NonNullable<ParseArgsConfig["options"]>,
  body: (inv: Invocation) => Promise<number>,
): CliCommand {
  return {
    name,
    summary,
    usage: [...usage, "", ...CONNECTION_USAGE],
    async run(args, ctx) {
      const { values, positionals } = parseCommand(args, options);
      let client: VmbranchClient | undefined;
      const inv: Invocation = { values, positionals, json: values.json === true, client: () => (client ??= clientFor(values as never, ctx)), ctx };
      try {
        return await body(inv);
      } catch (e) {
        if (e instanceof UsageError) throw e;
        const { code, line } = describeFailure(e);
        ctx.stderr(`vmbranch ${name}: ${line}\n`);
        return code;
      }
    },
  };
}

/** Exactly `n` positionals named by `what`, or a usage error. */
export function expectPositionals(inv: Invocation, what: string[], atLeast = false): string[] {
  const p = inv.positionals;
  if (atLeast ? p.length < what.length : p.length !== what.length) {
    throw new UsageError(what.length === 0 ? "takes no arguments" : `expected ${what.join(" ")}${atLeast ? " ..." : ""}`);
  }
  return p;
}

/** Print `value` as JSON (for --json). */
export function printJson(ctx: CliContext, value: unknown): void {
  ctx.stdout(JSON.stringify(value, null, 2) + "\n");
}
