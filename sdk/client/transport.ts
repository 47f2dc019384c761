/**
 * The HTTP layer of the client: one `call` sends a request with bearer auth through undici, applies
 * the per-attempt timeout and the caller's signal, retries as `decideRetry` says, and returns the
 * response validated against its schema. Owns the undici agent it creates (closed by `close`); the
 * resource modules own paths, bodies and which schema applies.
 */
import type { z } from "zod";
import { Agent, fetch as undiciFetch, type Dispatcher } from "undici";
import {
  ConnectionError,
  RequestAbortedError,
  SdkError,
  SdkResponseValidationError,
  TimeoutError,
  isBranchPendingSnapshot,
  isSdkError,
} from "./errors";
import { DEFAULT_TIMEOUT_MS, SDK_VERSION, type FetchLike, type RequestOptions, type ResponseMeta, type VmbranchClientOptions } from "./options";
import { decodeBody, errorFromAnswer, isFailedAnswer, parseAnswer, type RawAnswer } from "./response-parsing";
import { DEFAULT_RETRY_POLICY, decideRetry, parseRetryAfter, type AttemptFailure, type RetryPolicy } from "./retry-policy";
import { abortedError, linkAbort, sleep } from "./signals";

/** HTTP methods the API uses. */
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** A non-JSON request body: bytes (replayable) or a stream such as a `Readable` (sent once). */
export type RawBody = Uint8Array | AsyncIterable<Uint8Array>;

/** One call as the resource modules describe it. */
export interface CallSpec<S extends z.ZodType> {
  method: HttpMethod;
  /** Path from the endpoint, starting with `/`, segments already encoded, query included. */
  path: string;
  json?: unknown;
  raw?: { body: RawBody; contentType: string };
  schema: S;
  /** False for `/healthz`, which needs no token (and so is not sent one). */
  auth?: boolean;
  /** `instances.create` with `branch_from`: pending-snapshot 409s are retried until a deadline. */
  branchCreate?: boolean;
  options?: RequestOptions;
}

/** A validated response and what came with it. */
export interface ApiResponse<T> extends ResponseMeta {
  data: T;
}

/** What the transport needs from the client's options, defaults applied (the endpoint resolved). */
export type TransportConfig = Omit<VmbranchClientOptions, "endpoint"> & { endpoint: string };

function lowerKeys(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v;
  return out;
}

/** Reduce an SDK error to what the retry policy looks at. */
function describeFailure(error: SdkError): AttemptFailure {
  if (RequestAbortedError.is(error)) return { kind: "aborted" };
  if (TimeoutError.is(error)) return { kind: "timeout" };
  if (ConnectionError.is(error)) return { kind: "connection" };
  if (SdkResponseValidationError.is(error) || error.status === undefined) return { kind: "invalid-response" };
  return { kind: "status", status: error.status, code: error.code, branchPendingSnapshot: isBranchPendingSnapshot(error), retryAfterMs: error.retryAfterMs };
}

/** Sends requests for one client. Not shared between clients: each owns its agent. */
export class Transport {
  private readonly policy: RetryPolicy;
  private readonly fetchImpl: FetchLike;
  private ownAgent: Agent | undefined;
  private closed = false;

  constructor(private readonly config: TransportConfig) {
    this.policy = { ...DEFAULT_RETRY_POLICY, ...config.retry, ...(config.maxRetries !== undefined ? { maxRetries: config.maxRetries } : {}) };
    // undici's fetch and our FetchLike differ only in how wide their parameter types are.
    this.fetchImpl = config.fetch ?? (undiciFetch as unknown as FetchLike);
  }

  /** Send `spec`, retrying per policy; resolves with validated data or rejects with an `SdkError`. */
  async call<S extends z.ZodType>(spec: CallSpec<S>): Promise<ApiResponse<z.infer<S>>> {
    const options = spec.options ?? {};
    const headers = lowerKeys(options.headers);
    const replayable = spec.raw === undefined || spec.raw.body instanceof Uint8Array;
    const idempotent =
      replayable && (spec.method === "GET" || options.idempotent === true || options.idempotencyKey !== undefined || "idempotency-key" in headers);
    const policy = options.maxRetries === undefined ? this.policy : { ...this.policy, maxRetries: options.maxRetries };
    const started = Date.now();
    for (let retries = 0; ; retries++) {
      let error: SdkError;
      try {
        return await this.attempt(spec);
      } catch (err) {
        if (!isSdkError(err)) throw err;
        error = err;
      }
      const decision = decideRetry(
        { failure: describeFailure(error), retriesSoFar: retries, elapsedMs: Date.now() - started, idempotent, branchCreate: spec.branchCreate === true, random: Math.random() },
        policy,
      );
      if (!decision.retry) throw error;
      this.config.onRetry?.({ method: spec.method, path: spec.path, retry: retries + 1, delayMs: decision.delayMs, reason: decision.reason, error });
      await sleep(decision.delayMs, options.signal, `${spec.method} ${spec.path}`);
    }
  }

  /** Release the agent the client created (a dispatcher passed in stays the caller's). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const agent = this.ownAgent;
    this.ownAgent = undefined;
    if (agent !== undefined) await agent.close();
  }

  private dispatcher(): Dispatcher | undefined {
    if (this.config.dispatcher !== undefined) return this.config.dispatcher;
    // A caller-supplied fetch may be another undici version, which must not get our Agent.
    if (this.config.fetch !== undefined) return undefined;
    this.ownAgent ??= new Agent();
    return this.ownAgent;
  }

  private buildHeaders(spec: CallSpec<z.ZodType>): Record<string, string> {
    const options = spec.options ?? {};
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": `vmbranch-sdk/${SDK_VERSION}`,
      ...lowerKeys(this.config.headers),
    };
    if (spec.auth !== false) headers.authorization = `Bearer ${this.config.token}`;
    if (spec.json !== undefined) headers["content-type"] = "application/json";
    if (spec.raw !== undefined) headers["content-type"] = spec.raw.contentType;
    if (options.idempotencyKey !== undefined) headers["idempotency-key"] = options.idempotencyKey;
    return { ...headers, ...lowerKeys(options.headers) };
  }

  /** One request and its answer, every failure turned into an `SdkError`. */
  private async attempt<S extends z.ZodType>(spec: CallSpec<S>): Promise<ApiResponse<z.infer<S>>> {
    const options = spec.options ?? {};
    const where = `${spec.method} ${spec.path}`;
    if (this.closed) throw new ConnectionError(`${where}: the client is closed`, { code: "CLIENT_CLOSED", method: spec.method, path: spec.path });
    if (options.signal?.aborted) throw abortedError(options.signal, where);
    const timeoutMs = options.timeoutMs ?? this.config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const link = linkAbort(options.signal, timeoutMs);
    let answer: RawAnswer;
    try {
      const body = spec.json !== undefined ? JSON.stringify(spec.json) : spec.raw?.body;
      const dispatcher = this.dispatcher();
      const response = await this.fetchImpl(`${this.config.endpoint}${spec.path}`, {
        method: spec.method,
        headers: this.buildHeaders(spec),
        signal: link.signal,
        ...(body !== undefined ? { body } : {}),
        // Streams need half duplex in fetch; harmless for bytes and strings.
        ...(spec.raw !== undefined ? { duplex: "half" as const } : {}),
        ...(dispatcher !== undefined ? { dispatcher } : {}),
      });
      const text = await response.text();
      const headers: Record<string, string> = {};
      response.headers.forEach((value, key) => (headers[key.toLowerCase()] = value));
      answer = {
        method: spec.method,
        path: spec.path,
        status: response.status,
        statusText: response.statusText,
        headers,
        text,
        body: decodeBody(text),
        requestId: headers["x-request-id"],
        retryAfterMs: parseRetryAfter(headers["retry-after"], headers["retry-after-ms"], Date.now()),
      };
    } catch (err) {
      const meta = { method: spec.method, path: spec.path, cause: err };
      if (link.cause() === "caller") throw abortedError(options.signal, where);
      if (link.cause() === "timeout") throw new TimeoutError(`${where} timed out after ${timeoutMs} ms`, { ...meta, code: "REQUEST_TIMEOUT" });
      // undici's "fetch failed" says little; its cause says what happened (an AggregateError may have no message).
      const inner = err instanceof Error ? (err.cause as (Error & { code?: string }) | undefined) : undefined;
      const detail = inner?.message || inner?.code || (err instanceof Error ? err.message : String(err));
      throw new ConnectionError(`Connection error on ${where} to ${this.config.endpoint}: ${detail}`, { ...meta, code: "CONNECTION_FAILED" });
    } finally {
      link.dispose();
    }
    if (isFailedAnswer(answer)) throw errorFromAnswer(answer);
    const data = parseAnswer(answer, spec.schema);
    const meta: ResponseMeta = {
      status: answer.status,
      requestId: answer.requestId ?? (data as { request_id?: string } | undefined)?.request_id,
      headers: answer.headers,
    };
    options.onResponse?.(meta);
    return { ...meta, data };
  }
}
