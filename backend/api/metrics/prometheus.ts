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

/** The histograms, in exposition order: name, help, labels and buckets in seconds. */
const HISTOGRAMS = {
  requests: {
    name: "vmbranch_http_request_duration_seconds",
    help: "Time from a request's arrival to its answer, by method, matched route pattern and status (long-poll waits included)",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  },
  pause: {
    name: "vmbranch_branch_source_pause_seconds",
    help: "How long the source of a live branch was paused for its snapshot",
    labelNames: [],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  },
  toRunning: {
    name: "vmbranch_branch_request_to_running_seconds",
    help: "From a branch's create request to the branch running, by whether it started from the source's memory",
    labelNames: ["from_memory"],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300],
  },
  snapshot: {
    name: "vmbranch_snapshot_duration_seconds",
    help: "From the start of a live memory snapshot to its completion, by what it was for (branch or checkpoint)",
    labelNames: ["purpose"],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120],
  },
  clone: {
    name: "vmbranch_volume_clone_duration_seconds",
    help: "From a volume clone request to the clone being available",
    labelNames: [],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  },
} satisfies Record<string, { name: string; help: string; labelNames: string[]; buckets: number[] }>;

/** A gauge read from core's figures at each scrape: `set` its series from them. */
interface GaugeSpec {
  name: string;
  help: string;
  labelNames: string[];
  read(core: Core, set: (value: number, labels?: Record<string, string>) => void): void | Promise<void>;
}

/** One series per state of `states`, 0 for a state with no count. */
const byState =
  (states: readonly string[], counts: (core: Core) => Map<string, number>): GaugeSpec["read"] =>
  (core, set) => {
    const c = counts(core);
    for (const state of states) set(c.get(state) ?? 0, { state });
  };

/** The gauges, in exposition order. */
const GAUGES: GaugeSpec[] = [
  { name: "vmbranch_instances", help: "Instances (not templates or checkpoints) by state", labelNames: ["state"], read: byState(InstanceStateSchema.options, (core) => core.figures.instancesByState()) },
  { name: "vmbranch_volumes", help: "Volumes by state (volume templates are state template)", labelNames: ["state"], read: byState(VolumeStateSchema.options, (core) => core.figures.volumesByState()) },
  {
    name: "vmbranch_ram_images_bytes",
    help: "Bytes allocated to memory snapshots' RAM images in the RAM directory (tmpfs: host memory)",
    labelNames: [],
    read: async (core, set) => set((await core.figures.ramImages()).bytes),
  },
  { name: "vmbranch_ram_images_files", help: "Files of memory snapshots in the RAM directory", labelNames: [], read: async (core, set) => set((await core.figures.ramImages()).files) },
];

/** Registers the metrics of `core` and the `/metrics` route on `app`; returns the registry's close. */
export function installMetrics(app: FastifyInstance, core: Core): () => void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "vmbranch_" });
  const histogram = (spec: (typeof HISTOGRAMS)[keyof typeof HISTOGRAMS]) => new Histogram({ ...spec, registers: [registry] });
  const requests = histogram(HISTOGRAMS.requests);
  const pause = histogram(HISTOGRAMS.pause);
  const toRunning = histogram(HISTOGRAMS.toRunning);
  const snapshot = histogram(HISTOGRAMS.snapshot);
  const clone = histogram(HISTOGRAMS.clone);
  for (const { read, ...spec } of GAUGES) {
    new Gauge({
      ...spec,
      registers: [registry],
      async collect() {
        await read(core, (value, labels) => (labels ? this.set(labels, value) : this.set(value)));
      },
    });
  }

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
