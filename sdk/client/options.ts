/**
 * Client and per-request options, their defaults, and reading them from the environment.
 * Owns validation of the endpoint and token and the `VMBRANCH_*` variables; nothing is read at
 * import time, only when `resolveEnvOptions` is called (the Pulumi provider builds clients at run time).
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Dispatcher } from "undici";
import type { RetryPolicy } from "./retry-policy";

/** Endpoint used when neither the options nor `VMBRANCH_ENDPOINT` give one. */
export const DEFAULT_ENDPOINT = "http://127.0.0.1:7480";
/** Per-attempt timeout when the caller sets none. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** Sent as `user-agent`; kept by hand because sdk/ may not import package.json. */
export const SDK_VERSION = "0.2.0";

/** The part of a fetch Response the client reads. */
export interface FetchResponseLike {
  status: number;
  statusText?: string;
  headers: { get(name: string): string | null; forEach(cb: (value: string, key: string) => void): void };
  text(): Promise<string>;
}

/** What the client passes to `fetch`; `dispatcher` and `duplex` are undici extensions. */
export interface FetchInitLike {
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array | AsyncIterable<Uint8Array>;
  signal: AbortSignal;
  dispatcher?: Dispatcher;
  duplex?: "half";
}

/** A fetch implementation: undici's by default; tests or proxies may pass their own. */
export type FetchLike = (url: string, init: FetchInitLike) => Promise<FetchResponseLike>;

/** A retry event, reported through `onRetry` before the client sleeps. */
export interface RetryEvent {
  method: string;
  path: string;
  /** 1 for the first retry. */
  retry: number;
  delayMs: number;
  reason: string;
  error: Error;
}

/** Options of `new VmbranchClient(...)`. */
export interface VmbranchClientOptions {
  /** Base URL of `vmbranch serve`, e.g. `http://127.0.0.1:7480` (a path prefix is kept). */
  endpoint?: string;
  /** Bearer token for `/v1` calls. */
  token: string;
  /** Per-attempt timeout in ms (default 60 s). */
  timeoutMs?: number;
  /** Retries for retryable failures (default 2); pending-snapshot retries are bounded by time instead. */
  maxRetries?: number;
  /** Fine-tune backoff and deadlines. */
  retry?: Partial<RetryPolicy>;
  /** An undici dispatcher (Agent, Pool, ProxyAgent); the caller owns it and closes it. */
  dispatcher?: Dispatcher;
  /** A fetch implementation; with it and no dispatcher, the client creates no agent of its own. */
  fetch?: FetchLike;
  /** Headers added to every request. */
  headers?: Record<string, string>;
  /** Called before each retry's sleep, for logging. */
  onRetry?: (event: RetryEvent) => void;
}

/** Options every method accepts as its last argument. */
export interface RequestOptions {
  /** Abort the call (its retries and sleeps included). */
  signal?: AbortSignal;
  /** Per-attempt timeout in ms, overriding the client's. */
  timeoutMs?: number;
  /** Retries for this call, overriding the client's. */
  maxRetries?: number;
  /** Declare the call safe to repeat, making a non-GET retryable. */
  idempotent?: boolean;
  /** Sent as `Idempotency-Key`; makes the call retryable. */
  idempotencyKey?: string;
  /** Extra headers for this call. */
  headers?: Record<string, string>;
  /** Sees status, request id and headers of the final response. */
  onResponse?: (meta: ResponseMeta) => void;
}

/** What a successful response said besides its data. */
export interface ResponseMeta {
  status: number;
  requestId: string | undefined;
  headers: Record<string, string>;
}

/** Check and normalise an endpoint: http(s) URL, no query or fragment, no trailing slash. */
export function normaliseEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new TypeError(`Invalid vmbranch endpoint '${endpoint}': expected a URL like ${DEFAULT_ENDPOINT}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new TypeError(`Invalid vmbranch endpoint '${endpoint}': only http and https are supported`);
  if (url.search !== "" || url.hash !== "") throw new TypeError(`Invalid vmbranch endpoint '${endpoint}': no query or fragment allowed`);
  return url.toString().replace(/\/+$/, "");
}

/** Where `vmbranch serve` keeps a generated token: `<data dir>/token`. */
function tokenFilePath(env: NodeJS.ProcessEnv): string {
  const dataDir = env.VMBRANCH_DATA_DIR !== undefined && env.VMBRANCH_DATA_DIR !== "" ? env.VMBRANCH_DATA_DIR : join(homedir(), ".vmbranch");
  return join(dataDir, "token");
}

/**
 * Client options from the environment, read now: `VMBRANCH_ENDPOINT` (default 127.0.0.1:7480) and
 * `VMBRANCH_TOKEN`, falling back to the token file the local server generated. Overrides win.
 */
export function resolveEnvOptions(overrides: Partial<VmbranchClientOptions> = {}, env: NodeJS.ProcessEnv = process.env): VmbranchClientOptions {
  const endpoint = overrides.endpoint ?? (env.VMBRANCH_ENDPOINT !== undefined && env.VMBRANCH_ENDPOINT !== "" ? env.VMBRANCH_ENDPOINT : DEFAULT_ENDPOINT);
  let token = overrides.token ?? (env.VMBRANCH_TOKEN !== undefined && env.VMBRANCH_TOKEN !== "" ? env.VMBRANCH_TOKEN : undefined);
  if (token === undefined) {
    const file = tokenFilePath(env);
    try {
      token = readFileSync(file, "utf8").trim();
    } catch {
      throw new TypeError(`No vmbranch token: set VMBRANCH_TOKEN (no token file at ${file} either)`);
    }
  }
  return { ...overrides, endpoint, token };
}

/** Encode one path segment (a uuid or name); an empty segment would address the collection instead. */
export function pathSegment(idOrName: string): string {
  if (typeof idOrName !== "string" || idOrName === "") throw new TypeError("A resource uuid or name must be a non-empty string");
  return encodeURIComponent(idOrName);
}

/** Build a query string from defined values; arrays become comma lists (`tags=a,b`). */
export function queryString(params: Record<string, string | number | boolean | readonly string[] | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      if (value.length > 0) search.set(key, value.join(","));
    } else search.set(key, String(value));
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}
