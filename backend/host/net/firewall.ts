/**
 * The host firewall rule that keeps guests off the host. A guest on QEMU user networking reaches
 * the network through sockets its QEMU opens, and 10.0.2.2 is the host's own loopback: without a
 * rule, any guest allowed outbound connections could talk to every service listening on the host,
 * vmbranch's API included. The rule drops new connections from VM uids (vm-identity.ts) to any
 * address of this host; replies on connections the host opened to a guest (published ports) are
 * not new and still flow. Guests without outbound access never get that far: QEMU itself
 * (`restrict=on`) refuses every connection they try. The table is shared by every vmbranch on
 * the host and stays after the service stops, because its VMs keep running.
 */
import { HostCommandError, run } from "../util/exec";
import { VM_UID_BASE, VM_UID_COUNT } from "../confinement/vm-identity";

/** The nftables table holding vmbranch's rule. */
export const FIREWALL_TABLE = "vmbranch";

/** The ruleset, replacing whatever the table held (one atomic nft transaction). */
export function firewallRuleset(): string {
  const uids = `${VM_UID_BASE}-${VM_UID_BASE + VM_UID_COUNT - 1}`;
  return [
    `table inet ${FIREWALL_TABLE} {}`,
    `delete table inet ${FIREWALL_TABLE}`,
    `table inet ${FIREWALL_TABLE} {`,
    "  chain output {",
    "    type filter hook output priority filter; policy accept;",
    `    meta skuid ${uids} ct state new fib daddr type local counter reject`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Installs the rule; resolves with null when it is in place, else with why it is not. */
export async function installFirewall(): Promise<string | null> {
  if (process.getuid?.() !== 0) return "serve is not root";
  try {
    await run("nft", ["--version"], { timeoutMs: 10_000 });
  } catch {
    return "nft (Debian package nftables) is not installed";
  }
  try {
    await run("nft", ["-f", "-"], { input: Buffer.from(firewallRuleset()) });
    return null;
  } catch (err) {
    // nft's own words: the reason is logged as a warning at start, without the runner's prefix.
    const why = err instanceof HostCommandError ? err.output.trim() || `exit ${err.exitCode}` : (err as Error).message;
    return `nft refused the rule: ${why}`;
  }
}
