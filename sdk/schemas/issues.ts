/**
 * Turn zod issues into `{ field, message }` pairs a person can act on: the dotted path of the
 * offending input and one sentence. Unions are resolved to the alternative that got furthest,
 * so `value.guest_port` is reported rather than "Invalid input".
 */
import type { z } from "zod";

/** One validation failure, as the API and the provider's `check` report it. */
export interface FieldIssue {
  field: string;
  message: string;
}

type Issue = z.core.$ZodIssue;

function depth(issues: readonly Issue[]): number {
  let best = -1;
  for (const i of issues) {
    const nested = i.code === "invalid_union" && i.errors.length > 0 ? Math.max(...i.errors.map(depth)) : 0;
    best = Math.max(best, i.path.length + nested);
  }
  return best;
}

function flatten(issues: readonly Issue[], prefix: PropertyKey[]): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  for (const i of issues) {
    const path = [...prefix, ...i.path];
    if (i.code === "invalid_union" && i.errors.length > 0) {
      const best = [...i.errors].sort((a, b) => depth(b) - depth(a))[0] ?? [];
      out.push(...flatten(best, path));
    } else if (i.code === "invalid_union" && "note" in i && i.note === "No matching discriminator") {
      const d = (i as { discriminator?: string }).discriminator;
      const options = (i as { options?: unknown[] }).options ?? [];
      out.push({ path, message: `'${d}' must be one of ${options.map((o) => `'${String(o)}'`).join(", ")}` });
    } else if (i.code === "unrecognized_keys") {
      for (const k of i.keys) out.push({ path: [...path, k], message: `Unknown field '${k}'` });
    } else {
      out.push({ path, message: i.message });
    }
  }
  return out;
}

/** Render a path like `volumes[0].at`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s === "" ? String(p) : `.${String(p)}`;
  return s;
}

/** Describe a zod error as field issues, each message prefixed by its field unless it already names it. */
export function describeIssues(error: z.ZodError): FieldIssue[] {
  return flatten(error.issues, []).map(({ path, message }) => {
    const field = formatPath(path);
    const named = field === "" || message.includes(`'`) ? message : `'${field}': ${message}`;
    return { field, message: named };
  });
}
