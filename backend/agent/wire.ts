/**
 * The agent protocol's framing and values, shared by `vmbranch agent` and the control plane's
 * remote drivers: the paths and headers, JSON with the few types driver calls carry that JSON
 * lacks (Buffer, Set, Date, undefined) tagged, and errors with the fields core reads from host
 * failures (`code`, `hostFailure`, `importRefusal`, `switched`) kept across the hop.
 */
import { DiskSwitchError } from "../host/vm-driver";

/** Prefix of every agent route; the version changes when a call changes meaning. */
export const AGENT_PATH = "/agent/v1";

/** The control plane's term (epoch) a command is sent under; agents refuse older ones. */
export const EPOCH_HEADER = "x-vmbranch-epoch";

/** A call: a method of one of the agent's objects. */
export interface AgentCall {
  target: AgentTarget;
  method: string;
  args: unknown[];
}

/** The objects an agent exposes: its drivers, the VMs and snapshots it holds, leftovers it listed. */
export type AgentTarget = "host" | "vm" | "storage" | "handle" | "snapshot" | "vm-leftover" | "view-leftover";

/** An error as it crosses the wire. */
export interface WireError {
  name: string;
  message: string;
  /** Own fields of the error core reads (code, hostFailure, importRefusal, switched, …). */
  fields: Record<string, unknown>;
}

/** Error names the agent itself answers with (beside the host's own). */
export const AgentErrors = {
  /** The command carries an older control-plane epoch than one the agent has obeyed. */
  staleEpoch: "StaleEpoch",
  /** The VM or snapshot named is not held by this agent (it restarted, or the VM ended). */
  unknownObject: "UnknownObject",
  /** The request is malformed (unknown target or method, bad arguments). */
  badCall: "BadCall",
} as const;

type Tagged = { $t: "buf"; v: string } | { $t: "set"; v: unknown[] } | { $t: "date"; v: string } | { $t: "undef" } | { $t: "obj"; v: Record<string, unknown> };

/** `value` as plain JSON. */
export function encode(value: unknown): unknown {
  if (value === undefined) return { $t: "undef" } satisfies Tagged;
  if (value === null || typeof value !== "object") return value;
  if (Buffer.isBuffer(value)) return { $t: "buf", v: value.toString("base64") } satisfies Tagged;
  if (value instanceof Date) return { $t: "date", v: value.toISOString() } satisfies Tagged;
  if (value instanceof Set) return { $t: "set", v: [...value].map(encode) } satisfies Tagged;
  if (Array.isArray(value)) return value.map(encode);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = encode(v);
  // An object that has a `$t` key of its own (an environment variable so named) is wrapped.
  return "$t" in out ? ({ $t: "obj", v: out } satisfies Tagged) : out;
}

/** The value `encode` made `wire` from. */
export function decode(wire: unknown): unknown {
  if (wire === null || typeof wire !== "object") return wire;
  if (Array.isArray(wire)) return wire.map(decode);
  const obj = wire as Record<string, unknown>;
  if (typeof obj.$t === "string") {
    const t = obj as Tagged;
    switch (t.$t) {
      case "buf":
        return Buffer.from(t.v, "base64");
      case "date":
        return new Date(t.v);
      case "set":
        return new Set(t.v.map(decode));
      case "undef":
        return undefined;
      case "obj":
        return decodeFields(t.v);
    }
  }
  return decodeFields(obj);
}

function decodeFields(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = decode(v);
  return out;
}

/** Fields of an error core reads, own or inherited: a host failure's details, errno codes, an import's refusal. */
const READ_FIELDS = ["code", "hostFailure", "importRefusal"] as const;

/** `err` as it crosses the wire. */
export function errorToWire(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: "Error", message: String(err), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) if (typeof v !== "function") fields[k] = encode(v);
  // The fields core reads may be getters of the error's class (an import's refusal is).
  for (const k of READ_FIELDS) {
    const v = (err as unknown as Record<string, unknown>)[k];
    if (v !== undefined && typeof v !== "function") fields[k] = encode(v);
  }
  if (err instanceof DiskSwitchError) fields.switched = [...err.switched];
  return { name: err.name, message: err.message, fields };
}

/** The error `wire` describes, with its fields back on it (a DiskSwitchError as one). */
export function errorFromWire(wire: WireError): Error {
  const fields = decodeFields(wire.fields ?? {});
  if (wire.name === "DiskSwitchError") return new DiskSwitchError(wire.message, (fields.switched as string[]) ?? []);
  const err = new Error(wire.message);
  Object.assign(err, fields);
  // Set after the fields so a `name` among them does not replace it.
  Object.defineProperty(err, "name", { value: wire.name, enumerable: false, configurable: true, writable: true });
  return err;
}

/** True when `err` is the agent's answer `name` (AgentErrors). */
export function isAgentError(err: unknown, name: (typeof AgentErrors)[keyof typeof AgentErrors]): boolean {
  return err instanceof Error && err.name === name;
}
