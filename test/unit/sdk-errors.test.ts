// SDK error classes: status mapping, fields, and recognition across two copies of the package.
import {
  AuthenticationError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  InternalServerError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  SdkError,
  SdkResponseValidationError,
  TimeoutError,
  UnexpectedStateError,
  UnprocessableEntityError,
  errorClassForStatus,
  isBranchPendingSnapshot,
  isSdkError,
} from "vmbranch/sdk";

/** What an error thrown by another copy of the SDK looks like: same brand, same name, other class. */
function foreignError(name: string, status?: number): Error {
  const e = new Error("from the other copy") as Error & Record<symbol, unknown>;
  e.name = name;
  Object.defineProperty(e, Symbol.for("vmbranch.SdkError"), { value: true });
  Object.assign(e, { status, code: "X", errors: [] });
  return e;
}

describe("SDK errors", () => {
  it.each([
    [400, BadRequestError],
    [401, AuthenticationError],
    [403, PermissionDeniedError],
    [404, NotFoundError],
    [409, ConflictError],
    [422, UnprocessableEntityError],
    [429, RateLimitError],
    [500, InternalServerError],
    [503, InternalServerError],
    [408, SdkError],
    [418, SdkError],
  ])("status %i maps to %p", (status, cls) => {
    expect(errorClassForStatus(status)).toBe(cls);
  });

  it("carries status, code, request id, errors and cause", () => {
    const cause = new Error("socket");
    const e = new ConflictError("Volume is in use", {
      status: 409,
      code: "VOLUME_IN_USE",
      requestId: "req-1",
      errors: [{ status: 409, code: "VOLUME_IN_USE", message: "Volume is in use" }],
      cause,
    });
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(SdkError);
    expect(e).toBeInstanceOf(ConflictError);
    expect(e).not.toBeInstanceOf(NotFoundError);
    expect(e.name).toBe("ConflictError");
    expect(e.message).toBe("Volume is in use");
    expect([e.status, e.code, e.requestId, e.cause]).toEqual([409, "VOLUME_IN_USE", "req-1", cause]);
    expect(e.errors).toHaveLength(1);
    expect(JSON.parse(JSON.stringify(e))).toMatchObject({ name: "ConflictError", status: 409, code: "VOLUME_IN_USE", requestId: "req-1" });
  });

  it("status is undefined for connection failures and timeouts", () => {
    expect(new ConnectionError("refused").status).toBeUndefined();
    expect(new TimeoutError("late").status).toBeUndefined();
  });

  it("brand check recognises its own errors and rejects look-alikes", () => {
    expect(isSdkError(new NotFoundError("x", { status: 404 }))).toBe(true);
    expect(isSdkError(new Error("x"))).toBe(false);
    expect(isSdkError({ name: "NotFoundError", status: 404 })).toBe(false);
    expect(isSdkError(null)).toBe(false);
    expect(isSdkError("NotFoundError")).toBe(false);
  });

  it("recognises an error from a second copy of the package by brand, with is() and instanceof", () => {
    const other = foreignError("NotFoundError", 404);
    expect(isSdkError(other)).toBe(true);
    expect(SdkError.is(other)).toBe(true);
    expect(NotFoundError.is(other)).toBe(true);
    expect(ConflictError.is(other)).toBe(false);
    expect(other instanceof SdkError).toBe(true);
    expect(other instanceof NotFoundError).toBe(true);
    expect(other instanceof ConflictError).toBe(false);
  });

  it("a real second copy of the module (separate registry) recognises errors of the first", () => {
    let copy: typeof import("vmbranch/sdk") | undefined;
    jest.isolateModules(() => {
      copy = require("vmbranch/sdk") as typeof import("vmbranch/sdk");
    });
    if (copy === undefined) throw new Error("second copy did not load");
    expect(copy.NotFoundError).not.toBe(NotFoundError);
    const mine = new NotFoundError("Instance 'x' not found", { status: 404, code: "INSTANCE_NOT_FOUND" });
    expect(mine instanceof copy.NotFoundError).toBe(true);
    expect(copy.SdkError.is(mine)).toBe(true);
    expect(copy.ConflictError.is(mine)).toBe(false);
    const theirs = new copy.RateLimitError("slow down", { status: 429 });
    expect(theirs instanceof RateLimitError).toBe(true);
    expect(isSdkError(theirs)).toBe(true);
  });

  it("a user's subclass does not claim foreign errors", () => {
    class MyNotFound extends NotFoundError {}
    expect(foreignError("NotFoundError", 404) instanceof MyNotFound).toBe(false);
    expect(new MyNotFound("x") instanceof NotFoundError).toBe(true);
  });

  it("is() narrows types so each branch keeps its fields", () => {
    const e: unknown = new RateLimitError("slow down", { status: 429, retryAfterMs: 1_000 });
    if (RateLimitError.is(e)) expect(e.retryAfterMs).toBe(1_000);
    else throw new Error("expected a RateLimitError");
  });

  it("validation and state errors carry their details", () => {
    const v = new SdkResponseValidationError("bad", { status: 200, issues: [{ field: "data", message: "Required" }], body: {} });
    expect(v.code).toBe("RESPONSE_VALIDATION_FAILED");
    expect(v.issues).toEqual([{ field: "data", message: "Required" }]);
    const s = new UnexpectedStateError("in error", { state: "error", expected: ["running"] });
    expect([s.code, s.state, s.expected]).toEqual(["UNEXPECTED_STATE", "error", ["running"]]);
  });

  it("isBranchPendingSnapshot matches the code or the exact message, on 409 only", () => {
    const byCode = new ConflictError("x", { status: 409, code: "BRANCH_PENDING_SNAPSHOT" });
    const byMessage = new ConflictError("Cannot branch from VM with pending snapshot", {
      status: 409,
      code: "CONFLICT",
      errors: [{ status: 409, code: "CONFLICT", message: "Cannot branch from VM with pending snapshot" }],
    });
    expect(isBranchPendingSnapshot(byCode)).toBe(true);
    expect(isBranchPendingSnapshot(byMessage)).toBe(true);
    expect(isBranchPendingSnapshot(new ConflictError("Cannot branch from VM in state 'error'", { status: 409, code: "BRANCH_BAD_STATE" }))).toBe(false);
    expect(isBranchPendingSnapshot(new BadRequestError("x", { status: 400, code: "BRANCH_PENDING_SNAPSHOT" }))).toBe(false);
    expect(isBranchPendingSnapshot(new Error("Cannot branch from VM with pending snapshot"))).toBe(false);
  });
});
