/**
 * The `vmbranch` CLI's subcommand registry: each subcommand (image, later serve, …) is a
 * CliCommand registered by name; the registry dispatches argv, prints usage and turns thrown
 * errors into a message and exit status 1. Owns dispatch only; commands parse their own options.
 */

/** Where a command writes and what it reads from the environment (injectable for tests). */
export interface CliContext {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** True when a person watches stderr (a terminal): progress is drawn there. */
  interactive?: boolean;
}

/** One subcommand. `run` gets the arguments after its name and returns the exit status. */
export interface CliCommand {
  name: string;
  /** One line for `vmbranch help`. */
  summary: string;
  /** Usage lines shown by `vmbranch help <name>` and on usage errors. */
  usage: string[];
  run(args: string[], ctx: CliContext): Promise<number>;
}

/** Thrown by commands for bad arguments: printed with the command's usage, exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The process's own stdout/stderr/env. */
export function processContext(): CliContext {
  return { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), env: process.env, interactive: process.stderr.isTTY === true };
}

/** Subcommands by name. */
export class CommandRegistry {
  private readonly commands = new Map<string, CliCommand>();

  /** Adds a command; a name can be registered once. */
  register(command: CliCommand): this {
    if (this.commands.has(command.name)) throw new Error(`command '${command.name}' registered twice`);
    this.commands.set(command.name, command);
    return this;
  }

  /** The command called `name`, if any. */
  get(name: string): CliCommand | undefined {
    return this.commands.get(name);
  }

  /** Every registered name, sorted. */
  names(): string[] {
    return [...this.commands.keys()].sort();
  }

  /** Overall usage text listing every command (but the hidden ones, named `__…`). */
  usage(): string {
    const names = [...this.commands.values()].filter((c) => !c.name.startsWith("__")).sort((a, b) => a.name.localeCompare(b.name));
    const width = Math.max(4, ...names.map((c) => c.name.length));
    return ["usage: vmbranch <command> [args]", "", "commands:", ...names.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`), `  ${"help".padEnd(width)}  show help for a command`, ""].join("\n");
  }

  /** Runs the command named by argv[0]; resolves with the exit status (never throws). */
  async dispatch(argv: string[], ctx: CliContext): Promise<number> {
    const [name, ...rest] = argv;
    if (name === undefined || name === "help" || name === "--help" || name === "-h") {
      const topic = name === "help" && rest[0] ? this.commands.get(rest[0]) : undefined;
      ctx.stdout(topic ? topic.usage.join("\n") + "\n" : this.usage());
      return name === undefined ? 2 : 0;
    }
    const command = this.commands.get(name);
    if (!command) {
      ctx.stderr(`vmbranch: unknown command '${name}'\n${this.usage()}`);
      return 2;
    }
    if (rest.includes("--help") || rest.includes("-h")) {
      ctx.stdout(command.usage.join("\n") + "\n");
      return 0;
    }
    try {
      return await command.run(rest, ctx);
    } catch (e) {
      if (e instanceof UsageError) {
        ctx.stderr(`vmbranch ${name}: ${e.message}\n${command.usage.join("\n")}\n`);
        return 2;
      }
      ctx.stderr(`vmbranch ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
      return 1;
    }
  }
}
