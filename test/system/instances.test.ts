// Instances on real guests through a real `vmbranch serve` (TCG here): create from the `base` image
// with an inline volume and a published port, HTTP to the guest, the serial console through the log
// endpoint, graceful stop with the app's exit code, start again with the volume's data kept,
// suspend to standby and resume with RAM intact (a counter continues), `/wait` held until the state
// it waits for is reached (sent while stopped or running, answered only after the start or stop), SIGKILL of the service
// while two VMs run (both still running and controllable after the restart), and delete leaving no
// process or file. Steps build on each other, so they run in order on one backend; at most two VMs.
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Instance } from "../../sdk";
import { startBackend, type TestBackend } from "../helpers/backend";

jest.setTimeout(180_000);
const BOOT_MS = 150_000;

let b: TestBackend;
beforeAll(async () => {
  // At info, serve logs each request's arrival with its id: heldWait waits for it.
  b = await startBackend({ env: { VMBRANCH_LOG_LEVEL: "info" } });
}, 60_000);
afterAll(async () => {
  await b?.stop();
}, 60_000);

// The app: httpd (in the background) serves a CGI that appends the query to /data/hits and answers
// with the file; in the foreground a counter prints a tick a second; on SIGTERM it says so and exits 7.
const CGI = ["#!/bin/sh", 'echo "$QUERY_STRING" >> /data/hits', "printf 'Content-Type: text/plain\\r\\n\\r\\n'", "cat /data/hits"].join("\n");
const WEB_APP = [
  'mkdir -p /www/cgi-bin && printf "%s\\n" "$CGI" > /www/cgi-bin/hit && chmod +x /www/cgi-bin/hit && httpd -p 8080 -h /www',
  'trap "echo app-got-term; exit 7" TERM',
  'i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 1; done',
].join("\n");
const COUNTER = 'i=0; while :; do echo "idle $i"; i=$((i+1)); sleep 1; done';
const READY = "VMBRANCH-READY";

let web: Instance;

/** GET the guest's CGI through the published port; connection failures (httpd not up yet) are retried. */
async function hit(query: string): Promise<string> {
  const port = web.ports.find((p) => p.guest_port === 8080)!.host_port;
  const deadline = Date.now() + 60_000;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(`http://127.0.0.1:${port}/cgi-bin/hit?${query}`, { signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    const body = await res.text();
    expect({ status: res.status, body }).toEqual({ status: 200, body: expect.any(String) });
    return body;
  }
}

/** The whole serial console output of an instance so far. */
async function consoleOf(idOrName: string): Promise<string> {
  let out = "";
  for (let offset = 0; ; ) {
    const log = await b.client.instances.log(idOrName, { offset });
    out += log.output;
    if (log.next_offset >= log.available || log.output === "") return out;
    offset = log.next_offset;
  }
}

/** Wait until the console output satisfies `done` (the guest prints on its own schedule). */
async function consoleUntil(idOrName: string, done: RegExp | ((out: string) => boolean), timeoutMs = 60_000): Promise<string> {
  const test = typeof done === "function" ? done : (out: string) => done.test(out);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await consoleOf(idOrName);
    if (test(out)) return out;
    if (Date.now() > deadline) throw new Error(`console of ${idOrName} never got there (${String(done)}):\n${out}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Send `GET /v1/instances/{name}/wait?state=…` and return once serve has logged the request's
 * arrival, so what the test does next happens while the server holds the wait. The answer, when it
 * comes, is appended to `events` as "wait answered: <status> <state>".
 */
async function heldWait(name: string, state: string, events: string[]): Promise<{ answer: Promise<Instance> }> {
  const requestId = `wait-${state}-${randomUUID()}`;
  const answer = b.http("GET", `/v1/instances/${name}/wait?state=${state}&timeout_s=${BOOT_MS / 1000}`, undefined, { "x-request-id": requestId }).then((res) => {
    const inst = res.body?.data?.instances?.[0] as Instance | undefined;
    events.push(`wait answered: ${res.status} ${inst?.state}`);
    return inst!;
  });
  const deadline = Date.now() + 30_000;
  while (!b.serveLog().includes(`"reqId":"${requestId}"`)) {
    if (Date.now() > deadline) throw new Error(`serve did not log the wait's arrival (${requestId}) within 30 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { answer };
}

const numbers = (text: string, word: string) => [...text.matchAll(new RegExp(`^${word} (\\d+)\\r?$`, "gm"))].map((m) => Number(m[1]));

describe("an instance on a real guest", () => {
  it("boots from the image with an inline volume and a published port", async () => {
    const created = await b.client.instances.create({
      name: "web", image: "base", args: ["sh", "-c", WEB_APP], env: { CGI }, volumes: [{ size_mb: 16, at: "/data" }], ports: [{ guest_port: 8080 }],
    });
    expect(["starting", "running"]).toContain(created.state);
    web = await b.client.instances.waitFor("web", "running", { timeoutMs: BOOT_MS });
    expect(web).toMatchObject({ state: "running", start_count: 1, exit_code: null, volumes: [expect.objectContaining({ at: "/data", inline: true })] });
    expect(web.started_at).not.toBeNull();
    expect(web.boot_time_ms).toEqual(expect.any(Number));
    expect(["kvm", "tcg"]).toContain(web.accelerator);
    expect(web.ports).toEqual([{ guest_port: 8080, host_port: expect.any(Number), host_ip: "127.0.0.1", protocol: "tcp" }]);
    expect(b.vmPids()).toHaveLength(1);
    expect((await b.client.volumes.get(web.volumes[0]!.uuid)).state).toBe("mounted");
  });

  it("answers HTTP on the published port, writing to the volume", async () => {
    expect(await hit("one")).toBe("one\n");
    expect(await hit("two")).toBe("one\ntwo\n");
  });

  it("shows the serial console through the log endpoint, by offset and limit", async () => {
    const out = await consoleUntil("web", /^tick 2\r?$/m);
    expect(out).toContain(READY);
    expect(out.indexOf(READY)).toBeLessThan(out.indexOf("tick 0"));
    const head = await b.client.instances.log("web", { offset: 0, limit: 5 });
    expect(head).toMatchObject({ offset: 0, next_offset: 5, output: out.slice(0, 5) });
    const tail = await b.client.instances.log("web", { offset: 5 });
    expect(tail.offset).toBe(5);
    expect(out.slice(0, 5) + tail.output).toContain(out);
  });

  it("stops gracefully and reports the app's exit code; a wait for stopped sent while it ran answers only after the stop", async () => {
    const events: string[] = [];
    const waiting = await heldWait("web", "stopped", events);
    events.push(`observed ${(await b.client.instances.get("web")).state}`);
    events.push("stop sent");
    const stopped = await b.client.instances.stop("web");
    expect(stopped).toMatchObject({ state: "stopped", exit_code: 7, stop_reason: "stopped by request" });
    // The wait was held while the instance ran (and while it was stopping), and answered with the
    // instance as the stop left it.
    expect(await waiting.answer).toMatchObject({ state: "stopped", exit_code: 7, stop_reason: "stopped by request" });
    expect(events).toEqual(["observed running", "stop sent", "wait answered: 200 stopped"]);
    expect(stopped.stopped_at).not.toBeNull();
    expect(await consoleOf("web")).toMatch(/app-got-term/);
    expect(b.vmPids()).toEqual([]);
    expect((await b.client.volumes.get(web.volumes[0]!.uuid)).state).toBe("available");
  });

  it("starts again with the volume's data kept; a wait for running sent while stopped answers only once it runs", async () => {
    const events: string[] = [];
    const waiting = await heldWait("web", "running", events);
    events.push(`observed ${(await b.client.instances.get("web")).state}`);
    events.push("start sent");
    // A cold boot answers the start as soon as QEMU runs: `starting`, the guest still booting.
    events.push(`start answered: ${(await b.client.instances.start("web")).state}`);
    web = await waiting.answer;
    // Held through `stopped` and `starting`, answered at `running` with the boot recorded.
    expect(events).toEqual(["observed stopped", "start sent", "start answered: starting", "wait answered: 200 running"]);
    expect(web).toMatchObject({ state: "running", start_count: 2, exit_code: null, boot_time_ms: expect.any(Number) });
    expect(await hit("three")).toBe("one\ntwo\nthree\n");
  });

  it("suspends to standby and resumes with RAM intact: the counter continues", async () => {
    // The last tick of the current boot (the console may also hold earlier boots).
    const sinceBoot = (out: string) => out.slice(out.lastIndexOf(READY));
    const before = await consoleUntil("web", (out) => numbers(sinceBoot(out), "tick").length >= 1);
    const last = numbers(sinceBoot(before), "tick").at(-1)!;
    const suspended = await b.client.instances.suspend("web");
    expect(suspended.state).toBe("standby");
    expect(suspended.snapshot).toMatchObject({ has_memory: true });
    expect(b.vmPids()).toEqual([]);
    expect((await b.client.instances.get("web")).state).toBe("standby");

    const resumed = await b.client.instances.start("web");
    expect(resumed.state).toBe("running");
    // The console may restart with the new process or continue; look only at what came after.
    const freshPart = (out: string) => (out.startsWith(before) ? out.slice(before.length) : out);
    const after = await consoleUntil("web", (out) => numbers(freshPart(out), "tick").length >= 2);
    const fresh = freshPart(after);
    const ticks = numbers(fresh, "tick");
    expect(Math.min(...ticks)).toBeGreaterThan(last);
    expect(fresh).not.toContain(READY);
    // The guest's other state is intact too: httpd still serves the same volume.
    expect(await hit("four")).toBe("one\ntwo\nthree\nfour\n");
  });

  it("keeps two VMs running through a SIGKILL of vmbranch serve, and controls both afterwards", async () => {
    await b.client.instances.create({ name: "idle", image: "base", args: ["sh", "-c", COUNTER] });
    await b.client.instances.waitFor("idle", "running", { timeoutMs: BOOT_MS });
    const pids = b.vmPids().sort();
    expect(pids).toHaveLength(2);

    await b.crashAndRestart();

    expect(b.vmPids().sort()).toEqual(pids);
    expect((await b.client.instances.get("web")).state).toBe("running");
    expect((await b.client.instances.get("idle")).state).toBe("running");
    // Controllable: the guest still answers, its console is still read, and both stop on request.
    expect(await hit("five")).toBe("one\ntwo\nthree\nfour\nfive\n");
    await consoleUntil("idle", /^idle \d+\r?$/m);
    const idle = await b.client.instances.stop("idle");
    expect(idle).toMatchObject({ state: "stopped", exit_code: 143 });
    const webStopped = await b.client.instances.stop("web", { force: true });
    expect(webStopped.state).toBe("stopped");
    expect(b.vmPids()).toEqual([]);
    // And they start again under the restarted service.
    await b.client.instances.start("idle");
    expect((await b.client.instances.waitFor("idle", "running", { timeoutMs: BOOT_MS })).start_count).toBe(2);
  });

  it("deletes instances with their VMs and files", async () => {
    const inlineVolume = web.volumes[0]!.uuid;
    await b.client.instances.delete("idle");
    await b.client.instances.delete("web");
    expect(await b.client.instances.list()).toEqual([]);
    expect((await b.client.volumes.list()).map((v) => v.uuid)).not.toContain(inlineVolume);
    expect(b.vmPids()).toEqual([]);
    for (const d of ["disks", "run", "snapshots"]) {
      const dir = join(b.dataDir, d);
      expect({ [d]: existsSync(dir) ? readdirSync(dir) : [] }).toEqual({ [d]: [] });
    }
    const ram = b.ramDir();
    expect(ram && existsSync(ram) ? readdirSync(ram) : []).toEqual([]);
  });
});
