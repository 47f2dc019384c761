/**
 * Shell completion: `vmbranch completion bash` prints a bash completion script (commands, their
 * flags, subcommands, and instance or volume names asked of the server as you type), and the
 * hidden `vmbranch __complete instances|volumes` it calls, which prints names and never fails loudly.
 */
import { UsageError, type CliCommand, type CommandRegistry } from "../command-registry";
import { EXIT } from "./connection";
import { operatorCommand } from "./operator-command";

const INSTANCE_ARGS = ["get", "branch", "start", "stop", "suspend", "rm", "logs"];
const SUBCOMMANDS: Record<string, string[]> = { volumes: ["ls"], templates: ["ls"], hosts: ["ls"], image: ["build", "ls"], store: ["migrate"], completion: ["bash"], help: [] };

/** The bash completion script for the commands of `registry`. */
export function bashCompletion(registry: CommandRegistry): string {
  const commands = registry.names().filter((n) => !n.startsWith("__"));
  const flagCases = commands
    .map((n) => `    ${n}) flags="${[...new Set(registry.get(n)!.usage.join(" ").match(/--[a-z][a-z-]*/g) ?? [])].concat("--help").join(" ")}" ;;`)
    .join("\n");
  const subCases = Object.entries(SUBCOMMANDS).map(([n, subs]) => `    ${n}) [ "$COMP_CWORD" -eq 2 ] && words="${n === "help" ? commands.join(" ") : subs.join(" ")}" ;;`).join("\n");
  return `# bash completion for vmbranch: source it, or save it as /etc/bash_completion.d/vmbranch
_vmbranch() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd=\${COMP_WORDS[1]} flags="" words=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands.join(" ")} help" -- "$cur"))
    return
  fi
  case "$cmd" in
${flagCases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  case "$cmd" in
    ${INSTANCE_ARGS.join("|")}) words=$(vmbranch __complete instances 2>/dev/null) ;;
    clone) words=$(vmbranch __complete volumes 2>/dev/null) ;;
${subCases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _vmbranch vmbranch
`;
}

/** `vmbranch completion bash`. */
export function completionCommand(registry: () => CommandRegistry): CliCommand {
  return {
    name: "completion",
    summary: "print the shell completion script (bash)",
    usage: ["usage: vmbranch completion bash", "", "Load it now with: source <(vmbranch completion bash)"],
    async run(args, ctx) {
      if (args.length !== 1 || args[0] !== "bash") throw new UsageError(args.length === 0 ? "name the shell: bash" : `no completion for '${args.join(" ")}': only bash`);
      ctx.stdout(bashCompletion(registry()));
      return 0;
    },
  };
}

/** `vmbranch __complete instances|volumes`: names for completion; prints nothing when the server is not there. */
export const completeNames = operatorCommand("__complete", "(names for shell completion)", ["usage: vmbranch __complete instances|volumes"], {}, async (inv) => {
  const [what] = inv.positionals;
  try {
    const c = inv.client();
    const names =
      what === "instances" ? (await c.instances.list()).map((i) => i.name)
      : what === "volumes" ? [...(await c.volumes.list()), ...(await c.volumes.templates.list())].map((v) => v.name)
      : [];
    inv.ctx.stdout(names.join("\n") + (names.length ? "\n" : ""));
  } catch {
    // Completion must never print errors into the person's command line.
  }
  return EXIT.OK;
});
