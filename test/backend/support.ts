/**
 * Shared helpers of the backend layer (the API through real HTTP, no VM booted): one real
 * `vmbranch serve` per test file, raw requests whose answers are re-validated with the SDK's
 * envelope schemas, exact-error assertions, and `observe()`, the "bad input loses nothing" probe
 * (every row the list endpoints show, every file in the data dir, and the service still answering).
 * Tests decide what to assert; this module only fetches and checks shapes.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Header } from "tar";
import type { z } from "zod";
import {
  ErrorEnvelopeSchema,
  HealthSchema,
  HostsEnvelopeSchema,
  InstanceHistoryEnvelopeSchema,
  InstanceMetricsEnvelopeSchema,
  InstanceLogEnvelopeSchema,
  InstancesEnvelopeSchema,
  InstanceTemplatesEnvelopeSchema,
  VolumesEnvelopeSchema,
  VolumeTemplatesEnvelopeSchema,
  type ErrorEnvelope,
  type Instance,
  type Volume,
} from "../../sdk";
import { startBackend, type BackendOptions, type TestBackend } from "../helpers/backend";

/** An HTTP answer: status, headers and the parsed JSON body (or the text when it is not JSON). */
export interface Answer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/**
 * Options of `raw`: a JSON `body` (a string or bytes are sent as they are), extra headers, the token
 * (false = none), and a deadline after which an unanswered request (or one the connection failed)
 * is answered with status 0 and the error's message as body, instead of throwing.
 */
export interface RawOptions {
  body?: unknown;
  headers?: Record<string, string>;
  token?: string | false;
  deadlineMs?: number;
}

/**
 * Start one backend for the file (`beforeAll`) and stop it in `afterAll` (its `stop()` kills VMs
 * and removes its files). Returns a getter, since the backend exists only once `beforeAll` ran.
 */
export function useBackend(opts: Pick<BackendOptions, "allowHostPath" | "testStore"> = {}): () => TestBackend {
  let backend: TestBackend | undefined;
  beforeAll(async () => {
    backend = await startBackend(opts);
  }, 60_000);
  afterAll(async () => {
    await backend?.stop();
  }, 60_000);
  return () => {
    if (!backend) throw new Error("the backend did not start (see beforeAll)");
    return backend;
  };
}

/** A temporary directory removed in `afterAll` (for host paths and tar sources). */
export function useTempDir(prefix: string): () => string {
  let dir: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), `vmbranch-${prefix}-`));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => dir!;
}

/** Send a request exactly as given; the token is the backend's unless `token` says otherwise. */
export async function raw(b: TestBackend, method: string, path: string, o: RawOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  const token = o.token === undefined ? b.token : o.token;
  if (token !== false) headers.authorization = `Bearer ${token}`;
  const bytes = o.body instanceof Uint8Array;
  if (o.body !== undefined && typeof o.body !== "string" && !bytes) headers["content-type"] = "application/json";
  Object.assign(headers, o.headers ?? {});
  const sent = fetch(b.url + path, {
    method,
    headers,
    body: o.body === undefined ? undefined : typeof o.body === "string" || bytes ? (o.body as string | Uint8Array) : JSON.stringify(o.body),
    ...(o.deadlineMs !== undefined ? { signal: AbortSignal.timeout(o.deadlineMs) } : {}),
  });
  const res = o.deadlineMs === undefined ? await sent : await sent.catch((err: Error) => ({ status: 0, headers: new Headers(), text: async () => err.message }));
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, headers: res.headers, body };
}

/**
 * `raw`, then re-validate the answer with the SDK schemas: `schema` for a 2xx answer, the error
 * envelope for a 4xx/5xx one. A body that does not match fails the test right here.
 */
export async function call(b: TestBackend, method: string, path: string, body?: unknown, schema?: z.ZodType, headers?: Record<string, string>): Promise<Answer> {
  const res = await raw(b, method, path, { body, headers });
  if (res.status >= 400) ErrorEnvelopeSchema.parse(res.body);
  else if (schema) schema.parse(res.body);
  return res;
}

/** Wire schemas by path prefix, so callers need not name them for the common endpoints. */
export function schemaFor(path: string): z.ZodType | undefined {
  const p = path.split("?")[0]!;
  if (/^\/v1\/instances\/(.+\/)?history$/.test(p)) return InstanceHistoryEnvelopeSchema;
  if (/^\/v1\/instances\/(.+\/)?metrics$/.test(p)) return InstanceMetricsEnvelopeSchema;
  if (path.startsWith("/v1/instances/templates")) return InstanceTemplatesEnvelopeSchema;
  if (path.startsWith("/v1/volumes/templates")) return VolumeTemplatesEnvelopeSchema;
  if (/^\/v1\/instances\/[^/]+\/log/.test(path)) return InstanceLogEnvelopeSchema;
  if (path.startsWith("/v1/instances")) return InstancesEnvelopeSchema;
  if (path.startsWith("/v1/volumes/clone")) return undefined;
  if (path.startsWith("/v1/volumes")) return VolumesEnvelopeSchema;
  if (path.startsWith("/v1/hosts")) return HostsEnvelopeSchema;
  return undefined;
}

/** `call` with the schema chosen by path. */
export function api(b: TestBackend, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer> {
  return call(b, method, path, body, schemaFor(path), headers);
}

/**
 * Assert an error answer: HTTP `status`, an error envelope whose first error has `code` and
 * `status`, and when given the exact `message` (string) or a pattern, and the `field`.
 */
export function expectError(res: Answer, status: number, code: string, message?: string | RegExp, field?: string): ErrorEnvelope {
  // Status and code first, so an unexpected success reads as such rather than as a schema error.
  expect({ status: res.status, code: res.body?.errors?.[0]?.code }).toEqual({ status, code });
  const env = ErrorEnvelopeSchema.parse(res.body);
  for (const e of env.errors) expect(e.status).toBe(status);
  if (typeof message === "string") expect(env.errors.map((e) => e.message)).toContain(message);
  else if (message) expect(env.errors.map((e) => e.message).join("\n")).toMatch(message);
  if (field !== undefined) expect(env.errors.map((e) => e.field)).toContain(field);
  expect(typeof env.request_id).toBe("string");
  return env;
}

/** The one instance of a success answer. */
export function instanceOf(res: Answer): Instance {
  expect(res.status).toBeLessThan(300);
  const items = res.body.data.instances as Instance[];
  expect(items).toHaveLength(1);
  return items[0]!;
}

/** The one volume (or volume template) of a success answer. */
export function volumeOf(res: Answer): Volume {
  expect(res.status).toBeLessThan(300);
  const items = res.body.data.volumes as Volume[];
  expect(items).toHaveLength(1);
  return items[0]!;
}

/** Everything a user can observe about the service's resources, plus the files in its data dir. */
export interface Observed {
  instances: Instance[];
  instanceTemplates: Instance[];
  volumes: Volume[];
  volumeTemplates: Volume[];
  files: { disks: string[]; run: string[]; snapshots: string[]; tmp: string[] };
}

function listDir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/**
 * Snapshot of all resources (through the list endpoints, schema-checked) and of the data dir's
 * disk, run, snapshot and temp files. Fails when the service no longer answers `/healthz`.
 */
export async function observe(b: TestBackend): Promise<Observed> {
  const health = await raw(b, "GET", "/healthz", { token: false });
  expect(health.status).toBe(200);
  HealthSchema.parse(health.body);
  const list = async <T>(path: string, kind: string): Promise<T[]> => {
    const res = await api(b, "GET", path);
    expect(res.status).toBe(200);
    return (res.body.data[kind] as (T & { uuid: string })[]).sort((x, y) => x.uuid.localeCompare(y.uuid));
  };
  return {
    instances: await list<Instance>("/v1/instances", "instances"),
    instanceTemplates: await list<Instance>("/v1/instances/templates", "instances"),
    volumes: await list<Volume>("/v1/volumes", "volumes"),
    volumeTemplates: await list<Volume>("/v1/volumes/templates", "volumes"),
    files: {
      disks: listDir(join(b.dataDir, "disks")),
      run: listDir(join(b.dataDir, "run")),
      snapshots: listDir(join(b.dataDir, "snapshots")),
      tmp: listDir(join(b.dataDir, "tmp")),
    },
  };
}

/** Files of `<dataDir>/disks` that are in `after` but not in `before`. */
export function newDiskFiles(before: Observed, after: Observed): string[] {
  return after.files.disks.filter((f) => !before.files.disks.includes(f));
}

/** Path of a disk file of the backend. */
export function diskPath(b: TestBackend, file: string): string {
  return join(b.dataDir, "disks", file);
}

/** Run `fn` on a raw copy of a qcow2 disk (flattened through its backing chain), then remove the copy. */
export function withRawCopy<T>(qcow2: string, fn: (raw: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "vmbranch-rawcopy-"));
  const rawFile = join(dir, "disk.raw");
  try {
    execFileSync("qemu-img", ["convert", "-U", "-O", "raw", qcow2, rawFile]);
    return fn(rawFile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The output of `query` run by sqlite3 on the store in data dir `dataDir`, trimmed. */
export function storeQuery(dataDir: string, query: string): string {
  return execFileSync("sqlite3", [join(dataDir, "vmbranch.db"), query], { encoding: "utf8" }).trim();
}

/** The head file of volume `name` in data dir `dataDir`, or "" when it has none (or is gone). */
export function volumeHead(dataDir: string, name: string): string {
  return storeQuery(dataDir, `SELECT d.path FROM volumes v JOIN disks d ON d.id = v.head_disk WHERE v.name = '${name}'`);
}

/** A SHA-256 of a qcow2 disk's content as a guest reads it, through its whole backing chain. */
export function contentDigest(qcow2: string): string {
  return withRawCopy(qcow2, (rawFile) => createHash("sha256").update(readFileSync(rawFile)).digest("hex"));
}

/** The contents of `file` inside the ext filesystem of a qcow2 disk (debugfs, read-only). */
export function readFromDisk(qcow2: string, file: string): string {
  return withRawCopy(qcow2, (rawFile) =>
    execFileSync("debugfs", ["-R", `cat ${file}`, rawFile], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
  );
}

/** Size in bytes of the ext filesystem inside a qcow2 disk (block count × block size). */
export function filesystemBytes(qcow2: string): number {
  return withRawCopy(qcow2, (rawFile) => {
    const out = execFileSync("dumpe2fs", ["-h", rawFile], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const blocks = Number(/^Block count:\s+(\d+)/m.exec(out)?.[1]);
    const size = Number(/^Block size:\s+(\d+)/m.exec(out)?.[1]);
    return blocks * size;
  });
}

/** A name unique within a test run (names are global per kind). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A tar whose only entry is the file `path` (any name, even ones the tar CLI would not write, like `../x`). */
export function tarWithEntry(path: string, content: string): Buffer {
  const header = Buffer.alloc(512);
  new Header({ path, mode: 0o644, size: Buffer.byteLength(content), type: "File", mtime: new Date(0), uid: 0, gid: 0 }).encode(header, 0);
  const data = Buffer.alloc(Math.ceil(Buffer.byteLength(content) / 512) * 512);
  data.write(content);
  return Buffer.concat([header, data, Buffer.alloc(1024)]);
}
