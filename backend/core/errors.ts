/**
 * The one error registry of the backend: every error a client can see has a code here with its
 * HTTP status and what it means. Core throws `ApiError`s; only backend/api maps them to HTTP.
 * docs/errors.md lists the same codes (a unit test keeps them in step). The codes themselves are
 * part of the wire contract and live in sdk/schemas/error-codes.ts, so clients match them by name.
 */
import { API_ERRORS, type ApiErrorCode } from "vmbranch/sdk";

/** Every error code, its HTTP status and a one-line description for docs/errors.md: the SDK's list. */
export const ERROR_REGISTRY = API_ERRORS;

/** An error code from the registry. */
export type ErrorCode = ApiErrorCode;

const BRAND = Symbol.for("vmbranch.ApiError");

/** An error a client sees: a registry code, its status and a message; `field` names the input at fault. */
export class ApiError extends Error {
  readonly [BRAND] = true;
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    readonly details?: { field?: string; message: string }[],
    /** When the request may succeed if sent again, in milliseconds (sent as `Retry-After` and `retry-after-ms`). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = ERROR_REGISTRY[code].status;
  }

  /** True for an ApiError, also from another copy of this module. */
  static is(err: unknown): err is ApiError {
    return typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
  }
}
