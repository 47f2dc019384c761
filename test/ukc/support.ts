/**
 * The Unikraft Cloud layer's harness: a real `vmbranch serve` (test/helpers/backend.ts) driven by
 * Unikraft Cloud's official TypeScript SDK (`@unikraft/cloud`, its generated `InstancesApi` and
 * `VolumesApi`), whose every call is recorded so a file can prove it used every method of a client.
 * Also readers of what the SDK answers: the one item of an envelope, a refusal's status and code,
 * and the guest's console decoded from the base64 log.
 */
import { InstancesApi, VolumesApi, type models } from "@unikraft/cloud/api/platform";
import { startBackend, type TestBackend } from "../helpers/backend";

/** A client whose method calls are recorded by name in `called`. */
export type Recorded<T> = T & { called: Set<string> };

function recorded<T extends object>(api: T): Recorded<T> {
  const called = new Set<string>();
  return new Proxy(api, {
    get(target, prop, receiver) {
      if (prop === "called") return called;
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      // Called on the real client: its private fields do not exist on the proxy.
      return (...args: unknown[]) => {
        called.add(prop);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as Recorded<T>;
}

/** Every method the generated client declares (what "every method of InstancesApi" means). */
export function methodsOf(cls: { prototype: object }): string[] {
  return Object.getOwnPropertyNames(cls.prototype).filter((n) => n !== "constructor").sort();
}

/** A backend and the official SDK's clients pointed at it. */
export interface Ukc {
  backend: TestBackend;
  instances: Recorded<InstancesApi>;
  volumes: Recorded<VolumesApi>;
}

/** Start a backend for the file and the SDK's clients for it (`baseUrl` and `token`, nothing else). */
export async function startUkc(): Promise<Ukc> {
  const backend = await startBackend();
  const config = { baseUrl: backend.url, token: backend.token };
  return { backend, instances: recorded(new InstancesApi(config)), volumes: recorded(new VolumesApi(config)) };
}

/** An envelope as the SDK types it (its `data` holds one list, under the resource kind). */
type Envelope = { status: string; data?: object };

/** The items of a success envelope under `kind` (asserting the envelope says so), read as `T`. */
export function itemsOf<T>(res: Envelope, kind: "instances" | "volumes"): T[] {
  expect(res.status).toBe("success");
  return ((res.data as Record<string, T[] | undefined> | undefined)?.[kind]) ?? [];
}

/** The one item of a success envelope. */
export function oneOf<T>(res: Envelope, kind: "instances" | "volumes"): T {
  const items = itemsOf<T>(res, kind);
  expect(items).toHaveLength(1);
  return items[0]!;
}

/** What the SDK throws for an HTTP error, reduced to what tests assert. */
export interface Refusal {
  status: number;
  code: string | undefined;
  message: string;
}

/** The refusal a call ends in (fails the test when it succeeds). */
export async function refusal(call: Promise<unknown>): Promise<Refusal> {
  const err = await call.then(
    () => {
      throw new Error("expected the call to be refused");
    },
    (e: unknown) => e as { name?: string; kind?: string; status?: number; message: string; errors?: { code?: string }[] },
  );
  expect(err.name).toBe("UnikraftCloudError");
  expect(err.kind).toBe("http");
  return { status: err.status!, code: err.errors?.[0]?.code, message: err.message };
}

/** The whole serial console of an instance so far, as text (the SDK answers it base64). */
export async function consoleOf(api: InstancesApi, name: string): Promise<string> {
  const res = await api.getInstanceLogs({ name: [name], offset: [0], limit: [4 * 1024 * 1024] });
  const log = oneOf<models.GetInstancesLogsResponseLoggedInstance>(res, "instances");
  return Buffer.from(log.output, "base64").toString("utf8");
}

/** Wait (polling, with a deadline) until the console of `name` matches `pattern`. */
export async function waitConsole(api: InstancesApi, name: string, pattern: RegExp, timeoutMs = 90_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await consoleOf(api, name);
    const m = text.match(pattern);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`${name}: ${pattern} not seen within ${timeoutMs} ms; console ends with ${JSON.stringify(text.slice(-300))}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Wait (polling, with a deadline) until `probe` returns something other than undefined. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
