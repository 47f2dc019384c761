// Pure pieces behind the Unikraft Cloud compatible reads: list queries (ids, tags, order, paging),
// the reasons a history gives for state transitions, and the waits' timeout fields.
import { ListQuerySchema } from "../../sdk/schemas";
import { ApiError } from "../../backend/core/errors";
import { transitionReason } from "../../backend/core/history";
import { waitSeconds } from "../../backend/core/instance-actions";
import { applyListQuery, brief } from "../../backend/core/listing";
import type { TransitionRecord } from "../../backend/store/records";

const U = (n: number) => `0000000${n}-0000-4000-8000-000000000000`;
const recs = [
  { uuid: U(1), name: "a", createdAt: "2026-01-01T00:00:01.000Z", tags: ["x"] },
  { uuid: U(2), name: "b", createdAt: "2026-01-01T00:00:02.000Z", tags: ["x", "y"] },
  { uuid: U(3), name: "c", createdAt: "2026-01-01T00:00:03.000Z", tags: [] },
];
const notFound = (id: string) => new ApiError("INSTANCE_NOT_FOUND", `Instance '${id}' not found`);
const list = (query: Record<string, unknown>) =>
  applyListQuery([...recs].reverse(), ListQuerySchema.parse(query), notFound).map((r) => (r.ok ? r.value!.name : `!${r.error!.message}`));

describe("list queries", () => {
  it("sorts by creation time, oldest first unless desc", () => {
    expect(list({})).toEqual(["a", "b", "c"]);
    expect(list({ order: "desc" })).toEqual(["c", "b", "a"]);
    expect(list({ order: "PAGINATION_ORDER_DESC", sortby: "PAGINATION_SORT_BY_CREATE_TIME" })).toEqual(["c", "b", "a"]);
  });
  it("keeps resources carrying every tag, given repeated or as a comma list", () => {
    expect(list({ tags: ["x", "y"] })).toEqual(["b"]);
    expect(list({ tags: "x,y" })).toEqual(["b"]);
    expect(list({ tags: "x" })).toEqual(["a", "b"]);
  });
  it("pages with count and from (a uuid or an instant, inclusive)", () => {
    expect(list({ count: "2" })).toEqual(["a", "b"]);
    expect(list({ count: 0 })).toEqual(["a", "b", "c"]);
    expect(list({ from: U(2) })).toEqual(["b", "c"]);
    expect(list({ from: U(2), order: "desc" })).toEqual(["b", "a"]);
    expect(list({ from: "2026-01-01T00:00:02.000Z" })).toEqual(["b", "c"]);
    expect(() => list({ from: "yesterday" })).toThrow("'from' must be a uuid or an ISO 8601 time: 'yesterday'");
  });
  it("answers the ids asked for in their order, a miss as a failed item", () => {
    expect(list({ name: ["c", "nope"], uuid: U(1) })).toEqual(["a", "c", "!Instance 'nope' not found"]);
    expect(list({ name: "b", tags: "y" })).toEqual(["b"]);
    expect(list({ name: "a", tags: "y" })).toEqual(["!Instance 'a' not found"]);
  });
  it("answers only identity without details", () => {
    expect(brief({ uuid: U(1), name: "a", state: "running" }, false)).toEqual({ uuid: U(1), name: "a" });
    expect(brief({ uuid: U(1), name: "a", state: "running" }, undefined)).toEqual({ uuid: U(1), name: "a", state: "running" });
  });
});

describe("transition reasons", () => {
  const t = (from: TransitionRecord["fromState"], to: TransitionRecord["toState"], more: Partial<TransitionRecord> = {}): TransitionRecord => ({
    id: 1, instanceUuid: U(1), at: "t", fromState: from, toState: to, stopReason: null, error: null, exitCode: null, bootTimeMs: null, ...more,
  });
  it.each<[TransitionRecord, string]>([
    [t(null, "stopped"), "created"],
    [t("stopped", "starting"), "starting"],
    [t("standby", "starting"), "resuming from its memory snapshot"],
    [t("starting", "running", { bootTimeMs: 2412.6 }), "the guest is ready (booted in 2413 ms)"],
    [t("starting", "running", { bootTimeMs: 0 }), "running from a memory snapshot"],
    [t("running", "stopping", { stopReason: "stopped by request" }), "stopped by request"],
    [t("stopping", "stopped", { stopReason: "stopped by request", exitCode: 143 }), "stopped by request (exit code 143)"],
    [t("running", "stopped", { stopReason: "the guest powered off", exitCode: 0 }), "the guest powered off (exit code 0)"],
    [t("stopping", "standby", { stopReason: "suspended" }), "suspended"],
    [t("starting", "error", { error: "guest did not become ready: timeout" }), "guest did not become ready: timeout"],
    [t("stopped", "template"), "converted into an instance template"],
    [t("starting", "checkpoint"), "checkpoint capture complete"],
  ])("%#: %s", (rec, reason) => {
    expect(transitionReason(rec)).toBe(reason);
  });
});

describe("wait timeouts", () => {
  it("prefers timeout_s, rounds milliseconds up, takes -1 as the longest and falls back otherwise", () => {
    expect(waitSeconds(5, 100, 60)).toBe(5);
    expect(waitSeconds(undefined, 1001, 60)).toBe(2);
    expect(waitSeconds(-1, undefined, 60)).toBe(3600);
    expect(waitSeconds(undefined, -1, 60)).toBe(3600);
    expect(waitSeconds(undefined, undefined, 60)).toBe(60);
    expect(waitSeconds(0, undefined, 60)).toBe(0);
  });
});
