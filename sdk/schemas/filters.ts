/**
 * The KubeVirt clone filter grammar for tags and annotations (docs/api.md, "Branching"),
 * implemented strictly: `*` only at the end, `!` only at the start, nothing else special.
 * Matching lives here too because the provider previews it and the backend applies it.
 */
import { z } from "zod";
import { messages } from "./messages";

/** True when `filter` obeys the grammar. */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0) return false;
  const body = filter.startsWith("!") ? filter.slice(1) : filter;
  if (body.includes("!")) return false;
  const star = body.indexOf("*");
  return star === -1 || star === body.length - 1;
}

/** A list of filters; every element must obey the grammar. */
export const FiltersSchema = z.array(z.string()).superRefine((filters, ctx) => {
  for (const f of filters) if (!isValidFilter(f)) ctx.addIssue({ code: "custom", message: messages.badFilter(f) });
});

function matches(pattern: string, key: string): boolean {
  return pattern.endsWith("*") ? key.startsWith(pattern.slice(0, -1)) : key === pattern;
}

/**
 * Which of `keys` survive `filters`. Unset filters keep everything; otherwise a key is kept when
 * some positive filter matches it and no negative filter does (negation wins).
 * Only valid for filters that passed `isValidFilter`.
 */
export function applyFilters(keys: readonly string[], filters: readonly string[] | undefined | null): string[] {
  if (filters === undefined || filters === null) return [...keys];
  const positive = filters.filter((f) => !f.startsWith("!"));
  const negative = filters.filter((f) => f.startsWith("!")).map((f) => f.slice(1));
  return keys.filter((k) => positive.some((p) => matches(p, k)) && !negative.some((n) => matches(n, k)));
}
