/** The demo's closing report: instances, their lineage, each branch's source pause, how to reach them. */
import type { Instance } from "vmbranch/sdk";

/** Render the report for `instances`. */
export function report(instances: Instance[]): string {
  const rows = instances.map((i) => {
    const port = i.ports.find((p) => p.guest_port === 8080);
    return {
      name: i.name,
      state: i.state,
      lineage: i.branch ? `branch of ${i.branch.source.name} (${i.branch.from_memory ? "memory + disks" : "disks"})` : "source",
      pause: i.branch?.source_pause_ms != null ? `${i.branch.source_pause_ms.toFixed(1)} ms` : "",
      url: port ? `http://${port.host_ip}:${port.host_port}/cgi-bin/kv` : "",
    };
  });
  const head = { name: "INSTANCE", state: "STATE", lineage: "LINEAGE", pause: "SOURCE PAUSE", url: "REACH IT AT" };
  const all = [head, ...rows];
  const w = (k: keyof typeof head) => Math.max(...all.map((r) => r[k].length));
  const line = (r: typeof head) => (Object.keys(head) as (keyof typeof head)[]).map((k) => r[k].padEnd(w(k))).join("  ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}
