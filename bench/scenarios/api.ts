/**
 * Control-plane API latency: `GET /v1/instances` (list) and `GET /v1/instances/{name}` (get) at
 * 100 and at 1000 instances, measured from a client on the same host, one request at a time, on
 * each store side by side (SQLite, and PostgreSQL through `serve --store`). The instances are
 * stopped (no VM), so this is the store and the HTTP layer alone. The stores' servers are grown to
 * each size together and timed in alternating rounds, so a drift of the host's speed reaches both.
 * After the timed rounds, a server on PostgreSQL has its statements per list and per get counted.
 * Then `GET /v1/volumes` the same way, at 100 volumes each attached to an instance.
 */
import type { TestBackend } from "../../test/helpers/backend";
import { percentile } from "../lib/stats";
import { perOne, type PerRequest, type StoreTarget } from "../lib/stores";
import { since } from "../lib/vm";

/** p50 / p99 of one request kind at one size. */
export interface Latency {
  p50: number;
  p99: number;
  n: number;
}

/** One store at one size; `listStatements`/`getStatements` on PostgreSQL only. */
export interface ApiSize {
  instances: number;
  listMs: Latency;
  getMs: Latency;
  listStatements?: PerRequest;
  getStatements?: PerRequest;
}

/** `GET /v1/volumes` on one store; `listStatements` on PostgreSQL only. */
export interface ApiVolumes {
  volumes: number;
  listMs: Latency;
  listStatements?: PerRequest;
}

/** Results of the API scenario: per store, per number of instances, and the volume list. */
export interface ApiResult {
  rounds: number;
  stores: { store: string; sizes: ApiSize[]; volumes?: ApiVolumes }[];
}

function latency(samples: number[]): Latency {
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), n: samples.length };
}

async function timed(b: TestBackend, path: string): Promise<number> {
  const t0 = performance.now();
  const res = await b.http("GET", path);
  const ms = since(t0);
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}`);
  return ms;
}

/**
 * Grow every target to each size in `sizes`, then time `lists` lists and `gets` gets of random
 * instances on each, split into `rounds` rounds that alternate between the targets.
 */
export async function api(targets: StoreTarget[], sizes = [100, 1000], lists = 100, gets = 500, rounds = 4, volumes = 100): Promise<ApiResult> {
  const out: ApiResult["stores"] = targets.map((t) => ({ store: t.store, sizes: [] }));
  let made = 0;
  let madeVolumes = 0;
  try {
    for (const size of sizes) {
      for (; made < size; made++) {
        for (const { backend, store } of targets) {
          const res = await backend.http("POST", "/v1/instances", { name: `api-${made}`, image: "base", autostart: false });
          if (res.status !== 201) throw new Error(`creating api-${made} on ${store} answered ${res.status}`);
        }
      }
      const list = targets.map(() => [] as number[]);
      const get = targets.map(() => [] as number[]);
      // Warm each server's paths once before timing.
      for (const { backend } of targets) await timed(backend, "/v1/instances");
      for (let r = 0; r < rounds; r++) {
        for (const [k, { backend }] of targets.entries()) {
          for (let i = 0; i < lists / rounds; i++) list[k]!.push(await timed(backend, "/v1/instances"));
          for (let i = 0; i < gets / rounds; i++) get[k]!.push(await timed(backend, `/v1/instances/api-${Math.floor(Math.random() * size)}`));
        }
      }
      for (const [k, { backend, countStatements }] of targets.entries()) {
        const row: ApiSize = { instances: size, listMs: latency(list[k]!), getMs: latency(get[k]!) };
        if (countStatements) {
          row.listStatements = await perRequest(countStatements, 5, () => timed(backend, "/v1/instances"));
          row.getStatements = await perRequest(countStatements, 20, () => timed(backend, `/v1/instances/api-${Math.floor(Math.random() * size)}`));
        }
        out[k]!.sizes.push(row);
      }
    }
    // Volumes (each attached to one of the instances, so their views name it), listed the same way.
    for (; madeVolumes < volumes; madeVolumes++) {
      for (const { backend, store } of targets) {
        const res = await backend.http("POST", "/v1/volumes", { name: `api-vol-${madeVolumes}`, size_mb: 8 });
        if (res.status !== 201) throw new Error(`creating api-vol-${madeVolumes} on ${store} answered ${res.status}`);
        const at = await backend.http("PUT", `/v1/volumes/api-vol-${madeVolumes}/attach`, { attach_to: { name: `api-${madeVolumes % made}` }, at: `/v${madeVolumes}` });
        if (at.status !== 200) throw new Error(`attaching api-vol-${madeVolumes} on ${store} answered ${at.status}`);
      }
    }
    const vlist = targets.map(() => [] as number[]);
    for (const { backend } of targets) await timed(backend, "/v1/volumes");
    for (let r = 0; r < rounds; r++)
      for (const [k, { backend }] of targets.entries()) for (let i = 0; i < lists / rounds; i++) vlist[k]!.push(await timed(backend, "/v1/volumes"));
    for (const [k, { backend, countStatements }] of targets.entries()) {
      out[k]!.volumes = { volumes, listMs: latency(vlist[k]!) };
      if (countStatements) out[k]!.volumes!.listStatements = await perRequest(countStatements, 5, () => timed(backend, "/v1/volumes"));
    }
  } finally {
    // The instances first: deleting one detaches its volumes.
    for (const { backend } of targets) for (let i = 0; i < made; i++) await backend.http("DELETE", `/v1/instances/api-${i}`);
    for (const { backend } of targets) for (let i = 0; i < madeVolumes; i++) await backend.http("DELETE", `/v1/volumes/api-vol-${i}`);
  }
  return { rounds, stores: out };
}

/** Statements and PostgreSQL's time per request, over `n` requests made one at a time. */
async function perRequest(count: NonNullable<StoreTarget["countStatements"]>, n: number, request: () => Promise<unknown>): Promise<PerRequest> {
  const c = await count(async () => {
    for (let i = 0; i < n; i++) await request();
  });
  return perOne(c, n);
}
