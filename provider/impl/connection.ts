/**
 * How the provider reaches `vmbranch serve`, decided at run time (inside the engine's provider
 * process, or in the program for lookups), never serialized into the state. Per setting, in this
 * order: the environment of `pulumi` (`VMBRANCH_ENDPOINT`, `VMBRANCH_TOKEN`) when set, then the
 * stack config (`vmbranch:endpoint`, `vmbranch:token`), then the SDK's defaults (the local
 * endpoint, the token file of a local server). The environment comes first because `refresh` and
 * `destroy` configure the provider with the stack config recorded at the last `up`: a rotated
 * token can only be supplied there. The engine hands every stack config value, secrets decrypted,
 * to the dynamic provider's `configure` hook. Owns that order, its messages, and one short-lived
 * client per call.
 */
import { VmbranchClient, resolveEnvOptions, type VmbranchClientOptions } from "vmbranch/sdk";
import type { CheckFailure } from "./check-failures";

/** The part of Pulumi's `ConfigureRequest.config` (or of the program's config) the provider reads. */
export interface ConfigReader {
  get(key: string): string | undefined;
}

/** Stack config keys of the connection. */
export const CONFIG_KEYS = { endpoint: "vmbranch:endpoint", token: "vmbranch:token" } as const;

/** The connection settings of the stack config, trimmed, empty values dropped. */
export interface ConfiguredConnection {
  endpoint?: string;
  token?: string;
}

// Set by `configure`, which the provider host calls once per provider before any other method.
// Module state on purpose: it lives in the provider process only and is never serialized.
let fromConfig: ConfiguredConnection = {};

/** The connection settings in `config` (stack config keys). */
export function readConfig(config: ConfigReader): ConfiguredConnection {
  const read = (key: string) => {
    const v = config.get(key);
    return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
  };
  return { endpoint: read(CONFIG_KEYS.endpoint), token: read(CONFIG_KEYS.token) };
}

/** Remember the connection settings of the stack config. Called by each provider's `configure`. */
export function configure(config: ConfigReader): void {
  fromConfig = readConfig(config);
}

/** Forget what `configure` set (tests). */
export function resetConnection(): void {
  fromConfig = {};
}

/** Where the settings came from, for messages (never the token itself). */
export interface ConnectionSettings {
  options: VmbranchClientOptions;
  endpointSource: "environment" | "config" | "default";
}

const isSet = (v: string | undefined): v is string => v !== undefined && v !== "";

/**
 * The client options for `config` (by default what `configure` remembered): per setting the
 * environment when set, then the stack config, then the SDK's defaults. Throws when there is no
 * token anywhere, saying where to put one.
 */
export function connectionSettings(env: NodeJS.ProcessEnv = process.env, config: ConfiguredConnection = fromConfig): ConnectionSettings {
  const overrides: Partial<VmbranchClientOptions> = {};
  if (config.endpoint !== undefined && !isSet(env.VMBRANCH_ENDPOINT)) overrides.endpoint = config.endpoint;
  if (config.token !== undefined && !isSet(env.VMBRANCH_TOKEN)) overrides.token = config.token;
  let options: VmbranchClientOptions;
  try {
    options = resolveEnvOptions(overrides, env);
  } catch (err) {
    throw new Error(`No vmbranch token: set it with 'pulumi config set --secret ${CONFIG_KEYS.token} <token>' or the environment variable VMBRANCH_TOKEN (${noTokenDetail(err)})`);
  }
  const endpointSource = isSet(env.VMBRANCH_ENDPOINT) ? "environment" : config.endpoint !== undefined ? "config" : "default";
  return { options, endpointSource };
}

// The SDK says "No vmbranch token: set VMBRANCH_TOKEN (no token file at X either)": keep its detail.
function noTokenDetail(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return /\(([^)]*)\)\s*$/.exec(message)?.[1] ?? message;
}

/**
 * A check failure when no token can be found, so `preview` reports it and `up` stops before it
 * changes anything. Reads only the environment and the local token file.
 */
export function connectionFailures(env: NodeJS.ProcessEnv = process.env): CheckFailure[] {
  try {
    connectionSettings(env);
    return [];
  } catch (err) {
    return [{ property: "", reason: (err as Error).message }];
  }
}

/** Options of one `withClient` call. */
export interface ClientCallOptions {
  /** How long a branch create keeps retrying "pending snapshot" answers (the create deadline). */
  branchPendingDeadlineMs?: number;
  /** Settings to use instead of the configured ones (lookups in a program). */
  settings?: ConnectionSettings;
}

/**
 * Run `fn` with a client built from the current settings and close it afterwards. One client per
 * provider call: nothing that holds sockets outlives the call or ends up in a closure.
 */
export async function withClient<T>(fn: (client: VmbranchClient) => Promise<T>, opts: ClientCallOptions = {}): Promise<T> {
  const { options } = opts.settings ?? connectionSettings();
  const retry = opts.branchPendingDeadlineMs !== undefined ? { branchPendingDeadlineMs: opts.branchPendingDeadlineMs } : undefined;
  const client = new VmbranchClient({ ...options, ...(retry ? { retry } : {}) });
  try {
    return await fn(client);
  } finally {
    await client.close().catch(() => {});
  }
}
