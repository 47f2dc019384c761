/**
 * The SDK's error classes: `SdkError` and one subclass per HTTP status family, plus the failures
 * that have no status (connection, timeout, abort, invalid response, unreachable state).
 * Owns the status → class mapping and the cross-copy brand check; the transport decides when to
 * throw, and the retry policy decides what to retry.
 */
import { messages, type ApiErrorCode, type ApiErrorItem } from "../schemas";

/**
 * The brand every SDK error carries. `Symbol.for` puts it in the global symbol registry, so an
 * error thrown by one copy of the package is recognised by another (two versions in node_modules).
 */
export const SDK_ERROR_BRAND: unique symbol = Symbol.for("vmbranch.SdkError") as never;

/** What an `SdkError` knows about the failed call; every field is optional. */
export interface SdkErrorInit {
  status?: number;
  code?: string;
  requestId?: string;
  errors?: ApiErrorItem[];
  cause?: unknown;
  retryAfterMs?: number;
  method?: string;
  path?: string;
}

/** True when `value` is an error from any copy of this SDK (brand check, no `instanceof` needed). */
export function isSdkError(value: unknown): value is SdkError {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[SDK_ERROR_BRAND] === true;
}

/** Base class of every error the SDK throws. `status` is the HTTP status, undefined when none arrived. */
export class SdkError extends Error {
  /** The class name an instance reports as `name`; the cross-copy check compares it. */
  static readonly kind: string = "SdkError";
  /** HTTP status of the response, undefined for connection failures, timeouts and aborts. */
  readonly status: number | undefined;
  /** Error code: the first envelope error's code (SCREAMING_SNAKE), or an SDK code for local failures. */
  readonly code: string | undefined;
  /** The `x-request-id` header (or the envelope's `request_id`) of the failed response. */
  readonly requestId: string | undefined;
  /** Every error of the envelope, in the server's order. */
  readonly errors: ApiErrorItem[];
  /** Milliseconds the server asked us to wait (`Retry-After`), when it said. */
  readonly retryAfterMs: number | undefined;
  /** Method and path of the call that failed, for logs. */
  readonly method: string | undefined;
  readonly path: string | undefined;

  constructor(message: string, init: SdkErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    // Subclasses name themselves through their static `kind`, which survives minification.
    this.name = (new.target as typeof SdkError).kind;
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.errors = init.errors ?? [];
    this.retryAfterMs = init.retryAfterMs;
    this.method = init.method;
    this.path = init.path;
    Object.defineProperty(this, SDK_ERROR_BRAND, { value: true, enumerable: false });
  }

  /** True when `value` is this class of error, from this or any other copy of the SDK. */
  static is<T extends typeof SdkError>(this: T, value: unknown): value is InstanceType<T> {
    if (!isSdkError(value)) return false;
    return this.kind === "SdkError" || value.name === this.kind;
  }

  /** `instanceof` falls back to the brand, so errors from a second copy of the package still match. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    // Only the SDK's own classes (which define `kind` themselves) use the brand; user subclasses do not.
    return Object.prototype.hasOwnProperty.call(this, "kind") && (this as typeof SdkError).is(value);
  }

  /** A plain object for logs and JSON output. */
  toJSON(): Record<string, unknown> {
    const { name, message, status, code, requestId, errors, method, path } = this;
    return { name, message, status, code, requestId, errors, method, path };
  }
}

/** 400: the request was refused as invalid; `errors[].field` names the offending input. */
export class BadRequestError extends SdkError {
  static override readonly kind: string = "BadRequestError";
  declare readonly name: "BadRequestError";
}

/** 401: missing or wrong bearer token. Never retried. */
export class AuthenticationError extends SdkError {
  static override readonly kind: string = "AuthenticationError";
  declare readonly name: "AuthenticationError";
}

/** 403: the token may not do this. Never retried. */
export class PermissionDeniedError extends SdkError {
  static override readonly kind: string = "PermissionDeniedError";
  declare readonly name: "PermissionDeniedError";
}

/** 404: no such resource (by uuid or name). */
export class NotFoundError extends SdkError {
  static override readonly kind: string = "NotFoundError";
  declare readonly name: "NotFoundError";
}

/** 409: the resource's state refuses the request (in use, locked, pending snapshot, …). */
export class ConflictError extends SdkError {
  static override readonly kind: string = "ConflictError";
  declare readonly name: "ConflictError";
}

/** 422: well-formed but unprocessable. */
export class UnprocessableEntityError extends SdkError {
  static override readonly kind: string = "UnprocessableEntityError";
  declare readonly name: "UnprocessableEntityError";
}

/** 429: too many requests; `retryAfterMs` says when to come back if the server said. */
export class RateLimitError extends SdkError {
  static override readonly kind: string = "RateLimitError";
  declare readonly name: "RateLimitError";
}

/** 5xx: the server failed. */
export class InternalServerError extends SdkError {
  static override readonly kind: string = "InternalServerError";
  declare readonly name: "InternalServerError";
}

/** No HTTP answer: refused, reset or closed connection, DNS failure. `cause` holds undici's error. */
export class ConnectionError extends SdkError {
  static override readonly kind: string = "ConnectionError";
  declare readonly name: "ConnectionError";
}

/** A deadline passed: one request's `timeoutMs`, or a `waitFor` deadline. */
export class TimeoutError extends SdkError {
  static override readonly kind: string = "TimeoutError";
  declare readonly name: "TimeoutError";
}

/** The caller's `AbortSignal` fired; `cause` is the signal's reason. */
export class RequestAbortedError extends SdkError {
  static override readonly kind: string = "RequestAbortedError";
  declare readonly name: "RequestAbortedError";
}

/** A response that does not match the wire contract (sdk/schemas); `issues` says where. */
export class SdkResponseValidationError extends SdkError {
  static override readonly kind: string = "SdkResponseValidationError";
  declare readonly name: "SdkResponseValidationError";
  /** Each mismatch as `{ field, message }`, field being a path like `data.instances[0].state`. */
  readonly issues: { field: string; message: string }[];
  /** The parsed body that failed validation (the raw text when it was not JSON). */
  readonly body: unknown;

  constructor(message: string, init: SdkErrorInit & { issues?: { field: string; message: string }[]; body?: unknown }) {
    super(message, { ...init, code: init.code ?? "RESPONSE_VALIDATION_FAILED" });
    this.issues = init.issues ?? [];
    this.body = init.body;
  }
}

/** A waited-for resource reached a state from which the target can never be reached (e.g. `error`). */
export class UnexpectedStateError extends SdkError {
  static override readonly kind: string = "UnexpectedStateError";
  declare readonly name: "UnexpectedStateError";
  /** The state the resource ended in. */
  readonly state: string;
  /** The states the caller waited for. */
  readonly expected: readonly string[];

  constructor(message: string, init: SdkErrorInit & { state: string; expected: readonly string[] }) {
    super(message, { ...init, code: init.code ?? "UNEXPECTED_STATE" });
    this.state = init.state;
    this.expected = init.expected;
  }
}

/** The class for an HTTP error status (anything without a class of its own gets `SdkError`). */
export function errorClassForStatus(status: number): typeof SdkError {
  switch (status) {
    case 400:
      return BadRequestError;
    case 401:
      return AuthenticationError;
    case 403:
      return PermissionDeniedError;
    case 404:
      return NotFoundError;
    case 409:
      return ConflictError;
    case 422:
      return UnprocessableEntityError;
    case 429:
      return RateLimitError;
    default:
      return status >= 500 && status <= 599 ? InternalServerError : SdkError;
  }
}

/** Error code the backend uses for "Cannot branch from VM with pending snapshot" (409). */
export const BRANCH_PENDING_SNAPSHOT_CODE = "BRANCH_PENDING_SNAPSHOT" satisfies ApiErrorCode;

/**
 * True for the 409 "Cannot branch from VM with pending snapshot": the backend refused before creating
 * anything, so repeating the create is safe. Matched by code, or by the exact message for backends
 * that use another code.
 */
export function isBranchPendingSnapshot(value: unknown): boolean {
  if (!isSdkError(value) || value.status !== 409) return false;
  return value.code === BRANCH_PENDING_SNAPSHOT_CODE || value.errors.some((e) => e.message === messages.branchPendingSnapshot);
}
