/** Summary statistics for benchmark samples: median with spread, and percentiles. */

/** Sorted copy. */
function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** The p-th percentile (0–100), nearest-rank. */
export function percentile(xs: readonly number[], p: number): number {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

/** Median, min, max and count of samples. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Summarise samples. */
export function summarize(xs: readonly number[]): Summary {
  const s = sorted(xs);
  return { median: percentile(s, 50), min: s[0] ?? NaN, max: s.at(-1) ?? NaN, n: s.length };
}

/** `12.3 (10.1–15.0, n=20)` */
export function fmt(s: Summary, unit: string, digits = 1): string {
  return `${s.median.toFixed(digits)} ${unit} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)}, n=${s.n})`;
}
