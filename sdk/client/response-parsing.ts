/**
 * Turning an HTTP answer into data or an error: JSON decoding, validation against the sdk/schemas
 * envelopes, the status → error mapping with the server's exact message, and picking the single
 * object out of a one-element envelope. Owns no I/O; the transport feeds it status, headers and text.
 */
import type { z } from "zod";
import { ApiErrorItemSchema, describeIssues, type ApiErrorItem } from "../schemas";
import { SdkError, SdkResponseValidationError, errorClassForStatus } from "./errors";

/** Everything known about one HTTP answer. */
export interface RawAnswer {
  method: string;
  path: string;
  status: number;
  statusText?: string;
  headers: Record<string, string>;
  text: string;
  /** `text` decoded by `decodeBody`. */
  body: unknown;
  requestId: string | undefined;
  retryAfterMs: number | undefined;
}

/** Marks a body that is not JSON. */
export const NOT_JSON: unique symbol = Symbol("not json");

/** Parse a body as JSON; an empty body is `undefined`, anything unparseable is `NOT_JSON`. */
export function decodeBody(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/** The envelope's `errors`, keeping only well-formed items (an error body is read leniently). */
function envelopeErrors(body: unknown): ApiErrorItem[] {
  if (typeof body !== "object" || body === null) return [];
  const errors = (body as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  return errors.flatMap((e) => {
    const parsed = ApiErrorItemSchema.safeParse(e);
    return parsed.success ? [parsed.data] : [];
  });
}

function stringField(body: unknown, key: string): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const v = (body as Record<string, unknown>)[key];
  return typeof v === "string" ? v : undefined;
}

/**
 * The error for a failed answer (status ≥ 400, or an envelope whose status is "error"). Its message
 * is the first envelope error's message verbatim, so users read the API's own words.
 */
export function errorFromAnswer(answer: RawAnswer): SdkError {
  const body = answer.body;
  const errors = envelopeErrors(body);
  const first = errors[0];
  // A 2xx carrying an error envelope is judged by the status inside it.
  const status = answer.status >= 400 ? answer.status : (first?.status ?? 500);
  const fallback = answer.text.trim() !== "" && body === NOT_JSON ? answer.text.trim().slice(0, 200) : undefined;
  const message =
    first?.message ?? stringField(body, "message") ?? fallback ?? `HTTP ${status}${answer.statusText ? ` ${answer.statusText}` : ""}`;
  const ErrorClass = errorClassForStatus(status);
  return new ErrorClass(message, {
    status,
    code: first?.code,
    requestId: answer.requestId ?? stringField(body, "request_id"),
    errors,
    retryAfterMs: answer.retryAfterMs,
    method: answer.method,
    path: answer.path,
  });
}

/** True when the answer must become an error rather than data. */
export function isFailedAnswer(answer: RawAnswer): boolean {
  if (answer.status >= 400) return true;
  const body = answer.body;
  return typeof body === "object" && body !== null && (body as { status?: unknown }).status === "error";
}

/** Validate a successful answer against `schema`; a mismatch is an `SdkResponseValidationError`. */
export function parseAnswer<S extends z.ZodType>(answer: RawAnswer, schema: S): z.infer<S> {
  const body = answer.body;
  const where = `${answer.method} ${answer.path}`;
  const meta = { status: answer.status, requestId: answer.requestId ?? stringField(body, "request_id"), method: answer.method, path: answer.path };
  if (body === NOT_JSON || body === undefined) {
    const what = body === undefined ? "an empty body" : "a body that is not JSON";
    throw new SdkResponseValidationError(`Invalid response from ${where}: expected a JSON envelope, got ${what}`, { ...meta, body: answer.text });
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error);
    const summary = issues.slice(0, 3).map((i) => (i.field === "" ? i.message : `${i.field}: ${i.message}`)).join("; ");
    throw new SdkResponseValidationError(`Invalid response from ${where}: ${summary}`, { ...meta, issues, body });
  }
  return parsed.data;
}

/**
 * The one object of a single-object response (`data.<kind>[0]`). A missing or empty list is a
 * contract violation, reported like any other invalid response.
 */
export function firstItem<T>(data: Record<string, T[]> | undefined, kind: string, answer: { method: string; path: string; status: number; requestId: string | undefined }): T {
  const item = data?.[kind]?.[0];
  if (item === undefined)
    throw new SdkResponseValidationError(`Invalid response from ${answer.method} ${answer.path}: expected one item in 'data.${kind}', got none`, {
      status: answer.status,
      requestId: answer.requestId,
      method: answer.method,
      path: answer.path,
      issues: [{ field: `data.${kind}`, message: "expected one item" }],
    });
  return item;
}
