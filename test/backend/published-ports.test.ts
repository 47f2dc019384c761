// Where a serve picks the host port of a guest port published without one: from the operator's
// `--published-ports` range, never outside it (a full range refuses the instance, making nothing);
// and a range serve cannot use is refused before it starts. Real HTTP, no VM booted.
import { createServer, type Server } from "node:net";
import { startBackend, type TestBackend } from "../helpers/backend";
import { unclaimedPort } from "../helpers/ports";

let b: TestBackend;
let low: number;
let busy: Server;
beforeAll(async () => {
  // Three ports below the ephemeral range; the middle one is in use on the host.
  low = await unclaimedPort();
  busy = createServer();
  await new Promise<void>((r) => busy.listen(low + 1, "127.0.0.1", r));
  b = await startBackend({ args: ["--published-ports", `${low}-${low + 2}`] });
}, 60_000);
afterAll(async () => {
  await b?.stop();
  await new Promise((r) => busy?.close(r));
});

it("picks the range's free ports, skipping one in use, and refuses an instance once the range is full", async () => {
  const a = await b.client.instances.create({ name: "pp-a", image: "base", autostart: false, ports: [{ guest_port: 80 }, { guest_port: 81 }] });
  expect(a.ports.map((p) => p.host_port).sort((x, y) => x - y)).toEqual([low, low + 2]);
  const full = await b.http("POST", "/v1/instances", { name: "pp-c", image: "base", autostart: false, ports: [{ guest_port: 80, protocol: "udp" }, { guest_port: 80 }] });
  expect(full.status).toBe(409);
  expect(full.body.errors[0]).toMatchObject({
    code: "PORT_UNAVAILABLE",
    message: "No host port is free for guest port 80/tcp: every port of the range this host publishes from (its operator's --published-ports) is taken",
  });
  expect((await b.http("GET", "/v1/instances/pp-c")).status).toBe(404);
  // Kept: the instance keeps its ports, whatever is free now.
  expect((await b.client.instances.get("pp-a")).ports).toEqual(a.ports);
  // Its ports given back, the range has room again.
  await b.client.instances.delete("pp-a");
  const c = await b.client.instances.create({ name: "pp-c", image: "base", autostart: false, ports: [{ guest_port: 80 }] });
  expect([low, low + 2]).toContain(c.ports[0]!.host_port);
});

it("refuses a range that is not LOW-HIGH of unprivileged ports, before it starts", async () => {
  await expect(startBackend({ args: ["--published-ports", "80-90"] })).rejects.toThrow(
    "serve exited with 2: vmbranch serve: --published-ports must be LOW-HIGH with 1024 <= LOW <= HIGH <= 65535, got '80-90'",
  );
});
