/**
 * Control-plane API latency: `GET /v1/instances` (list) and `GET /v1/instances/{name}` (get) at
 * 100 and at 1000 instances, measured from a client on the same host, one request at a time.
 * The instances are stopped (no VM), so this is the store and the HTTP layer alone: the SQLite
 * side of the SQLite-versus-PostgreSQL comparison issue 14 asks for.
 */
import type { TestBackend } from "../../test/helpers/backend";
import { percentile } from "../lib/stats";
import { since } from "../lib/vm";

/** p50 / p99 of one request kind at one size. */
export interface Latency {
  p50: number;
  p99: number;
  n: number;
}

/** Results of the API scenario, per number of instances. */
export interface ApiResult {
  store: "sqlite";
  sizes: { instances: number; listMs: Latency; getMs: Latency }[];
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

/** Grow to each size in `sizes`, then time `lists` lists and `gets` gets of random instances. */
export async function api(b: TestBackend, sizes = [100, 1000], lists = 100, gets = 500): Promise<ApiResult> {
  const out: ApiResult["sizes"] = [];
  let made = 0;
  try {
    for (const size of sizes) {
      for (; made < size; made++) {
        const res = await b.http("POST", "/v1/instances", { name: `api-${made}`, image: "base", autostart: false });
        if (res.status !== 201) throw new Error(`creating api-${made} answered ${res.status}`);
      }
      // Warm the server's paths once before timing.
      await timed(b, "/v1/instances");
      const list: number[] = [];
      for (let i = 0; i < lists; i++) list.push(await timed(b, "/v1/instances"));
      const get: number[] = [];
      for (let i = 0; i < gets; i++) get.push(await timed(b, `/v1/instances/api-${Math.floor(Math.random() * size)}`));
      out.push({ instances: size, listMs: latency(list), getMs: latency(get) });
    }
  } finally {
    for (let i = 0; i < made; i++) await b.http("DELETE", `/v1/instances/api-${i}`);
  }
  return { store: "sqlite", sizes: out };
}
