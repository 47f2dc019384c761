/**
 * `GET /metrics` after a real lineage (see support/lineage.ts): the token is required, and the
 * figures say what happened — three live branches with their source pauses, request → running and
 * snapshot durations, one clone, instances and volumes by state as the API lists them, the RAM
 * images' bytes as the RAM directory holds them, and request latency by route pattern.
 */
import { execFileSync } from "node:child_process";
import type { Lineage } from "./support/lineage";
import { samples, value } from "./support/prometheus-text";

/** The metrics tests, on the shared lineage. */
export function metricsTests(lineage: () => Lineage): void {
  describe("GET /metrics", () => {
    it("needs the token", async () => {
      const res = await fetch(`${lineage().backend.url}/metrics`);
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain("vmbranch_instances");
    });

    it("reports the branches, the clone, states, RAM images and request latency", async () => {
      const { backend, pauses } = lineage();
      const res = await fetch(`${backend.url}/metrics`, { headers: { authorization: `Bearer ${backend.token}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const all = samples(await res.text());

      expect(value(all, "vmbranch_branch_source_pause_seconds_count")).toBe(3);
      const pauseSum = Object.values(pauses).reduce((a, b) => a + b, 0) / 1000;
      expect(value(all, "vmbranch_branch_source_pause_seconds_sum")).toBeCloseTo(pauseSum, 6);
      expect(value(all, "vmbranch_branch_request_to_running_seconds_count", { from_memory: "true" })).toBe(3);
      expect(value(all, "vmbranch_snapshot_duration_seconds_count", { purpose: "branch" })).toBe(3);
      expect(value(all, "vmbranch_volume_clone_duration_seconds_count")).toBe(1);
      // Every branch's request → running includes its source's pause and its snapshot.
      expect(value(all, "vmbranch_branch_request_to_running_seconds_sum", { from_memory: "true" })).toBeGreaterThan(pauseSum);

      const instances = await backend.client.instances.list();
      for (const state of ["running", "stopped", "standby"]) {
        expect({ state, n: value(all, "vmbranch_instances", { state }) }).toEqual({ state, n: instances.filter((i) => i.state === state).length });
      }
      expect(value(all, "vmbranch_instances", { state: "running" })).toBe(3);
      expect(value(all, "vmbranch_instances", { state: "standby" })).toBe(1);
      const volumes = await backend.client.volumes.list();
      expect(value(all, "vmbranch_volumes", { state: "template" })).toBe(1);
      for (const state of ["available", "mounted"]) {
        expect({ state, n: value(all, "vmbranch_volumes", { state }) }).toEqual({ state, n: volumes.filter((v) => v.state === state).length });
      }

      // The RAM directory's files (db-b's memory, suspended) as find(1) sees them (allocated 512-byte blocks), while nothing changes it.
      const blocks = execFileSync("find", [backend.ramDir()!, "-type", "f", "-printf", "%b\\n"], { encoding: "utf8" }).split("\n").filter(Boolean);
      expect(value(all, "vmbranch_ram_images_files")).toBe(blocks.length);
      expect(value(all, "vmbranch_ram_images_bytes")).toBe(blocks.reduce((a, b) => a + Number(b) * 512, 0));
      expect(value(all, "vmbranch_ram_images_bytes")).toBeGreaterThan(0);

      // Latency is labelled by the route pattern, never by a resource's name.
      expect(value(all, "vmbranch_http_request_duration_seconds_count", { method: "POST", route: "/v1/instances", status: "201" })).toBe(4);
      expect(all.filter((s) => s.name === "vmbranch_http_request_duration_seconds_count" && /db-a/.test(s.labels.route ?? ""))).toEqual([]);
      expect(all.some((s) => s.name === "vmbranch_http_request_duration_seconds_count" && s.labels.route === "/v1/instances/:id/wait")).toBe(true);
      expect(value(all, "vmbranch_process_resident_memory_bytes")).toBeGreaterThan(0);
    });
  });
}
