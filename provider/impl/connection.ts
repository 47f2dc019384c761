/**
 * How the provider reaches `vmbranch serve`, decided at run time inside the engine's provider
 * process, never at program time (nothing about the connection is serialized into the state).
 * Order: stack config `vmbranch:endpoint` / `vmbranch:token` (the engine hands every stack config
 * value, secrets decrypted, to the dynamic provider's `configure` hook: verified with the Pulumi
 * CLI v3.259.0), then the environment `VMBRANCH_ENDPOINT` / `VMBRANCH_TOKEN`, then the token file
 * of a local server (the SDK's rule). Owns that order and one short-lived client per call.
 */
import { VmbranchClient, resolveEnvOptions, type VmbranchClientOptions } from "vmbranch/sdk";

/** The part of Pulumi's `ConfigureRequest.config` the provider reads. */
export interface ConfigReader {
  get(key: string): string | undefined;
}

/** Stack config keys of the connection. */
export const CONFIG_KEYS = { endpoint: "vmbranch:endpoint", token: "vmbranch:token" } as const;

// Set by `configure`, which the provider host calls once per provider before any other method.
// Module state on purpose: it lives in the provider process only and is never serialized.
let fromConfig: { endpoint?: string; token?: string } = {};

/** Remember the connection settings of the stack config. Called by each provider's `configure`. */
export function configure(config: ConfigReader): void {
  const read = (key: string) => {
    const v = config.get(key);
    return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
  };
  fromConfig = { endpoint: read(CONFIG_KEYS.endpoint), token: read(CONFIG_KEYS.token) };
}

/** Forget what `configure` set (tests). */
export function resetConnection(): void {
  fromConfig = {};
}

/** Where the settings came from, for messages (never the token itself). */
export interface ConnectionSettings {
  options: VmbranchClientOptions;
  endpointSource: "config" | "environment" | "default";
}

/** The client options now: stack config first, then the environment, then the SDK's defaults. */
export function connectionSettings(env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
  const overrides: Partial<VmbranchClientOptions> = {};
  if (fromConfig.endpoint !== undefined) overrides.endpoint = fromConfig.endpoint;
  if (fromConfig.token !== undefined) overrides.token = fromConfig.token;
  let options: VmbranchClientOptions;
  try {
    options = resolveEnvOptions(overrides, env);
  } catch (err) {
    throw new Error(
      `No vmbranch token: set it with 'pulumi config set --secret ${CONFIG_KEYS.token} <token>' or the environment variable VMBRANCH_TOKEN (${(err as Error).message})`,
    );
  }
  const endpointSource = fromConfig.endpoint !== undefined ? "config" : env.VMBRANCH_ENDPOINT ? "environment" : "default";
  return { options, endpointSource };
}

/** Options of one `withClient` call. */
export interface ClientCallOptions {
  /** How long a branch create keeps retrying "pending snapshot" answers (the create deadline). */
  branchPendingDeadlineMs?: number;
}

/**
 * Run `fn` with a client built from the current settings and close it afterwards. One client per
 * provider call: nothing that holds sockets outlives the call or ends up in a closure.
 */
export async function withClient<T>(fn: (client: VmbranchClient) => Promise<T>, opts: ClientCallOptions = {}): Promise<T> {
  const { options } = connectionSettings();
  const retry = opts.branchPendingDeadlineMs !== undefined ? { branchPendingDeadlineMs: opts.branchPendingDeadlineMs } : undefined;
  const client = new VmbranchClient({ ...options, ...(retry ? { retry } : {}) });
  try {
    return await fn(client);
  } finally {
    await client.close().catch(() => {});
  }
}
