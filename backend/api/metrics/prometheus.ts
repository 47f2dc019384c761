/**
 * `GET /metrics`: the service's metrics in Prometheus text format (prom-client, a registry of the
 * app's own): request latency by matched route, branch source pauses, branch request → running,
 * snapshot and clone durations, instances and volumes by state, RAM-image bytes in the RAM
 * directory, and the process's own figures. docs/metrics.md lists them with example queries.
 * Counts and outcomes are core's (ServiceFigures); this file only names and formats them.
 */
import type { FastifyInstance } from "fastify";
import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { InstanceStateSchema, VolumeStateSchema } from "vmbranch/sdk";
import type { Core } from "../../core/service";

const ms = (v: number) => v / 1000;

/** Registers the metrics of `core` and the `/metrics` route on `app`; returns the registry's close. */
export function installMetrics(app: FastifyInstance, core: Core): () => void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "vmbranch_" });

  const requests = new Histogram({
    name: "vmbranch_http_request_duration_seconds",
    help: "Time from a request's arrival to its answer, by method, matched route pattern and status (long-poll waits included)",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const pause = new Histogram({
    name: "vmbranch_branch_source_pause_seconds",
    help: "How long the source of a live branch was paused for its snapshot",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const toRunning = new Histogram({
    name: "vmbranch_branch_request_to_running_seconds",
    help: "From a branch's create request to the branch running, by whether it started from the source's memory",
    labelNames: ["from_memory"] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300],
    registers: [registry],
  });
  const snapshot = new Histogram({
    name: "vmbranch_snapshot_duration_seconds",
    help: "From the start of a live memory snapshot to its completion, by what it was for (branch or checkpoint)",
    labelNames: ["purpose"] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120],
    registers: [registry],
  });
  const clone = new Histogram({
    name: "vmbranch_volume_clone_duration_seconds",
    help: "From a volume clone request to the clone being available",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: "vmbranch_instances",
    help: "Instances (not templates or checkpoints) by state",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      const counts = core.figures.instancesByState();
      for (const state of InstanceStateSchema.options) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  new Gauge({
    name: "vmbranch_volumes",
    help: "Volumes by state (volume templates are state template)",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      const counts = core.figures.volumesByState();
      for (const state of VolumeStateSchema.options) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  new Gauge({
    name: "vmbranch_ram_images_bytes",
    help: "Bytes allocated to memory snapshots' RAM images in the RAM directory (tmpfs: host memory)",
    registers: [registry],
    async collect() {
      this.set((await core.figures.ramImages()).bytes);
    },
  });
  new Gauge({
    name: "vmbranch_ram_images_files",
    help: "Files of memory snapshots in the RAM directory",
    registers: [registry],
    async collect() {
      this.set((await core.figures.ramImages()).files);
    },
  });

  const stop = core.figures.onOutcome((o) => {
    if (o.kind === "clone") clone.observe(ms(o.ms));
    else if (o.kind === "checkpoint") snapshot.observe({ purpose: "checkpoint" }, ms(o.ms));
    else {
      if (o.sourcePauseMs !== null) pause.observe(ms(o.sourcePauseMs));
      if (o.snapshotMs !== null) snapshot.observe({ purpose: "branch" }, ms(o.snapshotMs));
      if (o.requestToRunningMs !== null) toRunning.observe({ from_memory: String(o.fromMemory) }, ms(o.requestToRunningMs));
    }
  });

  app.addHook("onResponse", async (req, reply) => {
    // The route pattern, never the raw path: names and uuids would make one series per resource.
    const route = req.routeOptions.url ?? "unmatched";
    requests.observe({ method: req.method, route, status: String(reply.statusCode) }, Number(process.hrtime.bigint() - req.startedNs) / 1e9);
  });
  app.get("/metrics", async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  return stop;
}
