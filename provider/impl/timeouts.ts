/**
 * Deadlines of the provider's long operations. Pulumi's `customTimeouts` never reach a dynamic
 * provider (docs/provider.md, "How it runs inside Pulumi"), so each resource takes a `timeouts`
 * input with `create`, `update` and `delete` durations ("90s", "5m", "1h30m", or a number of
 * seconds) and falls back to defaults. Owns parsing, validation messages and the deadline
 * arithmetic; callers decide what to wait for.
 */
import { isRecord, isUnknown } from "./values";

/** The `timeouts` input: durations as strings like "5m" or numbers of seconds. */
export interface TimeoutsInput {
  create?: string | number;
  update?: string | number;
  delete?: string | number;
}

/** Resolved deadlines in milliseconds. */
export interface Timeouts {
  createMs: number;
  updateMs: number;
  deleteMs: number;
}

/** Defaults: a cold boot under TCG takes seconds, but a host busy with several branches can take minutes. */
export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({ createMs: 300_000, updateMs: 300_000, deleteMs: 120_000 });

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;

/** Parse "1h30m", "90s", "250ms" or a number of seconds into ms; undefined when malformed or not positive. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? Math.round(value * 1000) : undefined;
  const text = value.trim();
  if (!DURATION_RE.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return ms > 0 ? Math.round(ms) : undefined;
}

/** Check failures of a `timeouts` input, as `{ property, reason }`. Unknown values pass. */
export function timeoutsFailures(input: unknown): { property: string; reason: string }[] {
  if (input === undefined || input === null || isUnknown(input)) return [];
  if (!isRecord(input)) return [{ property: "timeouts", reason: "'timeouts' must be an object like { create: \"5m\" }" }];
  const out: { property: string; reason: string }[] = [];
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined || value === null || isUnknown(value)) continue;
    if (!["create", "update", "delete"].includes(key)) out.push({ property: `timeouts.${key}`, reason: `Unknown timeout '${key}': use 'create', 'update' or 'delete'` });
    else if ((typeof value !== "string" && typeof value !== "number") || parseDuration(value) === undefined)
      out.push({ property: `timeouts.${key}`, reason: `Invalid duration '${String(value)}' for 'timeouts.${key}': use a positive number of seconds or a duration like "90s", "5m" or "1h"` });
  }
  return out;
}

/**
 * What create, update and delete may receive besides the inputs: the schema-based plugin passes
 * the resource's `customTimeouts`, which win over the `timeouts` input.
 */
export interface OperationOptions {
  /** The engine's deadline for this operation in ms (0 or absent: none given). */
  timeoutMs?: number;
}

/** The deadline of one operation: the engine's when it gave one, else `configuredMs`. */
export function operationMs(configuredMs: number, opts: OperationOptions = {}): number {
  return opts.timeoutMs !== undefined && opts.timeoutMs > 0 ? opts.timeoutMs : configuredMs;
}

/** Resolve a `timeouts` input (already checked) against the defaults. */
export function resolveTimeouts(input: TimeoutsInput | null | undefined, defaults: Readonly<Timeouts> = DEFAULT_TIMEOUTS): Timeouts {
  const pick = (v: string | number | undefined, d: number) => (v === undefined || v === null ? d : (parseDuration(v) ?? d));
  return {
    createMs: pick(input?.create, defaults.createMs),
    updateMs: pick(input?.update, defaults.updateMs),
    deleteMs: pick(input?.delete, defaults.deleteMs),
  };
}

/** A deadline: how much time is left of a budget that started when it was made. */
export class Deadline {
  private readonly endAt: number;

  constructor(readonly totalMs: number) {
    this.endAt = Date.now() + totalMs;
  }

  /** Milliseconds left, at least 1 so a call still gets a (failing) chance to say why. */
  remainingMs(): number {
    return Math.max(1, this.endAt - Date.now());
  }

  /** True once the budget is spent. */
  expired(): boolean {
    return Date.now() >= this.endAt;
  }

  /** The budget as people read it ("5m", "90s"). */
  describe(): string {
    const s = Math.round(this.totalMs / 1000);
    return s % 60 === 0 && s >= 60 ? `${s / 60}m` : `${s}s`;
  }
}
