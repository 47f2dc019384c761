/**
 * What the host agent's hop costs a branch: the engines scenario's branch of a running 256 MiB
 * source (bench/scenarios/engines.ts), on a serve that runs its drivers in process and on one that
 * runs them through `vmbranch agent` (both SQLite), alternating, so the host's drift reaches both.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBackend, type TestBackend } from "../../test/helpers/backend";
import { startAgent, type TestAgent } from "../../test/helpers/host-agent";
import { engines, type EnginesResult } from "./engines";

/** Run it beside `inProcess` (a serve without an agent), with `branches` branches each. */
export async function agentHop(inProcess: TestBackend, env: Record<string, string>, branches: number): Promise<EnginesResult> {
  const dataDir = await mkdtemp(join(tmpdir(), "vmbranch-bench-"));
  let agent: TestAgent | undefined;
  let viaAgent: TestBackend | undefined;
  try {
    agent = await startAgent(dataDir);
    viaAgent = await startBackend({ dataDir, testStore: false, env, args: agent.serveArgs });
    return await engines([{ store: "in process", backend: inProcess }, { store: "agent", backend: viaAgent }], branches);
  } finally {
    await agent?.stop();
    await viaAgent?.stop();
  }
}
