/**
 * `check` of the Instance resource: choose the name (auto-naming), then report, during preview
 * and before anything is created, every request the API would refuse, with the API's own
 * messages (the SDK's `InstanceCreateRequestSchema` and combination rules), plus the
 * provider's own inputs (state, timeouts, readiness, triggers), and a missing token (so a preview
 * says so before an `up` changes anything). Unknown values pass. No network I/O.
 */
import { InstanceCreateRequestSchema, instanceCreateCombinationIssues } from "vmbranch/sdk";
import { enumFailure, schemaFailures, triggersFailures, uniqueFailures, unknownInputFailures, type CheckFailure } from "./check-failures";
import { connectionFailures } from "./connection";
import { resolveInstanceInputs, type InstanceInputs } from "./instance-model";
import { inputPropertyOf, instanceCreateRequest } from "./instance-request";
import { resolveName, type CheckOptions } from "./naming";
import { timeoutsFailures } from "./timeouts";
import { isRecord, isUnknown } from "./values";

/** The result of `check`: the inputs to use (name filled in) and what is wrong with them. */
export interface InstanceCheckResult {
  inputs: InstanceInputs;
  failures: CheckFailure[];
}

const STATES = ["running", "stopped", "standby"] as const;
const KNOWN_INPUTS = [
  "name", "namePrefix", "autoNamed", "image", "template", "branchFrom", "checkpoint", "memoryMb", "vcpus", "args", "env", "volumes", "ports",
  "tags", "annotations", "deleteLock", "state", "hostname", "outboundNetwork", "host", "cloneOptions", "timeouts", "readiness", "waitForExit", "triggers",
];

/** Validate new inputs against the API's rules; `olds` (previous inputs) give the auto-name to keep. */
export function checkInstance(olds: Record<string, unknown> | undefined, news: Record<string, unknown>, opts: CheckOptions = {}): InstanceCheckResult {
  const inputs = resolveName(olds ? resolveInstanceInputs(olds) : undefined, resolveInstanceInputs(news), opts);
  const raw = inputs as unknown as Record<string, unknown>;
  const failures: CheckFailure[] = [
    ...unknownInputFailures(raw, KNOWN_INPUTS),
    ...enumFailure("state", raw.state, STATES, isUnknown),
    ...waitForExitFailures(raw),
    ...timeoutsFailures(raw.timeouts),
    ...triggersFailures(raw.triggers),
    ...readinessFailures(raw),
    ...branchVolumeFailures(raw),
    ...apiFailures(raw),
    ...connectionFailures(),
  ];
  return { inputs, failures: uniqueFailures(failures) };
}

/** The API's own verdict on the create request, property names mapped back to inputs. */
function apiFailures(raw: Record<string, unknown>): CheckFailure[] {
  const autostart = raw.state !== "stopped";
  const request = instanceCreateRequest(raw, { autostart });
  const present = (field: string) => (request as Record<string, unknown>)[field] !== undefined;
  // Combination rules first and always: zod skips them when a field has the wrong type.
  const combos = instanceCreateCombinationIssues(present).map((i) => ({ property: inputPropertyOf(i.field), reason: i.message }));
  return [...combos, ...schemaFailures(InstanceCreateRequestSchema, request, inputPropertyOf)];
}

function waitForExitFailures(raw: Record<string, unknown>): CheckFailure[] {
  if (raw.waitForExit !== true) return [];
  if (raw.state !== undefined && !isUnknown(raw.state) && raw.state !== "stopped")
    return [{ property: "waitForExit", reason: `'waitForExit' runs the instance until its main process exits, so 'state' must be 'stopped' (or unset), not '${String(raw.state)}'` }];
  return [];
}

function readinessFailures(raw: Record<string, unknown>): CheckFailure[] {
  const r = raw.readiness;
  if (r === undefined || isUnknown(r)) return [];
  if (!isRecord(r)) return [{ property: "readiness", reason: "'readiness' must be an object like { guestPort: 8080, path: \"/\" }" }];
  const out: CheckFailure[] = [];
  const port = r.guestPort;
  if (!isUnknown(port) && !(Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535))
    out.push({ property: "readiness.guestPort", reason: "'readiness.guestPort' must be a port number between 1 and 65535" });
  if (r.path !== undefined && !isUnknown(r.path) && !(typeof r.path === "string" && r.path.startsWith("/")))
    out.push({ property: "readiness.path", reason: "'readiness.path' must start with '/'" });
  // A branch, template or checkpoint instance publishes its source's ports, which are not known here.
  const derived = raw.branchFrom !== undefined || raw.template !== undefined || raw.checkpoint !== undefined;
  const ports = raw.ports;
  if (out.length === 0 && !isUnknown(port) && !derived && !isUnknown(ports)) {
    const published = Array.isArray(ports) && ports.some((p) => isRecord(p) && (p.guestPort === port || isUnknown(p.guestPort)) && p.protocol !== "udp");
    if (!published)
      out.push({ property: "readiness.guestPort", reason: `'readiness.guestPort' ${String(port)} is not published: add { guestPort: ${String(port)} } to 'ports'` });
  }
  return out;
}

/**
 * A branch starts from its source's memory snapshot, whose devices are fixed, so it cannot be
 * given volumes (the API refuses the same for warm template instances).
 */
function branchVolumeFailures(raw: Record<string, unknown>): CheckFailure[] {
  if (raw.branchFrom === undefined || raw.volumes === undefined) return [];
  if (Array.isArray(raw.volumes) && raw.volumes.length === 0) return [];
  return [
    {
      property: "volumes",
      reason: "Cannot add volumes to a branch: it starts from its source's memory snapshot, whose devices are fixed; it gets copies of the source's volumes instead",
    },
  ];
}

