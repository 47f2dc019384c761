// The host state the views show (backend/core/hosts.ts, hostStateOf), pure logic: a host's
// recorded state, offline when the host has no record, and online for a row that names no host
// (older than hosts: serve's own once it started).
import { hostStateOf } from "../../backend/core/hosts";
import type { HostRecord } from "../../backend/store/records";

const record = (name: string, state: "online" | "offline"): HostRecord => ({
  name, state, memoryTotalMib: null, memoryFreeMib: null, lastHeartbeat: null, joinedAt: "2026-01-01T00:00:00.000Z",
});
const hosts = new Map([record("a", "online"), record("b", "offline")].map((h) => [h.name, h]));
const lookup = (name: string) => hosts.get(name);

describe("hostStateOf", () => {
  it("is the host's recorded state", () => {
    expect(hostStateOf(lookup, "a")).toBe("online");
    expect(hostStateOf(lookup, "b")).toBe("offline");
  });

  it("is offline for a host with no record: nothing heartbeats for it", () => {
    expect(hostStateOf(lookup, "gone")).toBe("offline");
  });

  it("is online for a row that names no host", () => {
    expect(hostStateOf(lookup, null)).toBe("online");
    expect(hostStateOf(lookup, undefined)).toBe("online");
  });
});
