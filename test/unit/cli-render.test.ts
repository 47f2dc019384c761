// What the people's commands print, as pure functions: ages, durations, aligned tables and the
// branch lineage as a tree (a branch of a branch nested, a branch whose source is gone a root).
import { age, hostText, lineage, lineageJson, lineageTable, millis, stateText, table } from "../../backend/cli/operator/render";
import type { Instance } from "../../sdk";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

function inst(name: string, created: number, state: Instance["state"], source?: { name: string; pauseMs: number | null; live?: boolean }): Instance {
  return {
    uuid: `u-${name}`,
    name, state, created_at: at(created),
    branch: source
      ? { source: { uuid: `u-${source.name}`, name: source.name }, snapshot_uuid: source.live === false ? null : "s", snapshot_at: null, source_pause_ms: source.pauseMs, snapshot_ms: null, restore_ms: null, phase: "Succeeded", from_memory: source.live !== false, message: null }
      : null,
  } as unknown as Instance;
}

/** Instances (uuids are `u-<name>`, so branches find their sources). */
function fleet(...list: Instance[]): Instance[] {
  return list;
}

describe("people's output", () => {
  it("says ages and durations as people do", () => {
    expect([age(at(0), T0 + 45_000), age(at(0), T0 + 180_000), age(at(0), T0 + 7_200_000), age(at(0), T0 + 5 * 86_400_000)]).toEqual(["45s", "3m", "2h", "5d"]);
    expect([millis(12.345), millis(1500), millis(null)]).toEqual(["12.3ms", "1.5s", "-"]);
  });

  it("marks what lives on an offline host, whose state is only as last recorded", () => {
    expect(stateText({ state: "running", host_state: "offline" })).toBe("running (host offline)");
    expect(stateText({ state: "running", host_state: "online" })).toBe("running");
    // A server older than hosts says neither.
    expect(stateText({ state: "stopped" })).toBe("stopped");
    expect([hostText({ host: "box-3", host_state: "offline" }), hostText({ host: "box-1", host_state: "online" }), hostText({})]).toEqual(["box-3 (offline)", "box-1", "-"]);
  });

  it("aligns tables on the widest cell", () => {
    expect(table(["A", "LONGER"], [["xxx", "y"], ["z", "w"]])).toBe("A    LONGER\nxxx  y\nz    w\n");
  });

  it("draws the lineage as a tree, oldest first, with each branch's source pause", () => {
    const all = fleet(
      inst("db-b", 20, "standby", { name: "db", pauseMs: 4.7 }),
      inst("db", 0, "running"),
      inst("db-a-1", 30, "running", { name: "db-a", pauseMs: 41.6 }),
      inst("db-a", 10, "running", { name: "db", pauseMs: 6.4 }),
      inst("cold", 40, "stopped", { name: "db", pauseMs: 0, live: false }),
      inst("orphan", 50, "running", { name: "gone", pauseMs: 3 }),
    );
    expect(lineageTable(lineage(all), T0 + 120_000).split("\n")).toEqual([
      "NAME                         STATE    PAUSE   AGE",
      "db                           running          2m",
      "├─ db-a                      running  6.4ms   1m",
      "│  └─ db-a-1                 running  41.6ms  1m",
      "├─ db-b                      standby  4.7ms   1m",
      "└─ cold                      stopped  none    1m",
      "orphan (from gone, deleted)  running  3ms     1m",
      "",
    ]);
    const json = lineageJson(lineage(all)) as { name: string; branches: { name: string; branches: { name: string }[] }[] }[];
    expect(json.map((n) => n.name)).toEqual(["db", "orphan"]);
    expect(json[0]!.branches.map((b) => b.name)).toEqual(["db-a", "db-b", "cold"]);
    expect(json[0]!.branches[0]!.branches.map((b) => b.name)).toEqual(["db-a-1"]);
  });
});
