/**
 * `--published-ports LOW-HIGH` of `vmbranch serve` and `vmbranch agent`: the host ports a host
 * picks from when an instance publishes a guest port without naming its host port.
 */
import type { PortRange } from "../host/net/ports";
import { UsageError } from "./command-registry";

/** First port a range may hold: the ports below it only ever come from an explicit `host_port`. */
const LOWEST = 1024;
const HIGHEST = 65535;

/** The range `value` names, checked; undefined when the flag is absent. */
export function parsePortRange(flag: string, value: string | undefined): PortRange | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(value.trim());
  const low = m ? Number(m[1]) : NaN;
  const high = m ? Number(m[2]) : NaN;
  if (!m || low < LOWEST || high > HIGHEST || low > high) throw new UsageError(`--${flag} must be LOW-HIGH with ${LOWEST} <= LOW <= HIGH <= ${HIGHEST}, got '${value}'`);
  return { low, high };
}
