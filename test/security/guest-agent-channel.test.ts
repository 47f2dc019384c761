// The guest agent's channel treats the guest as an attacker (docs/security.md): a guest that stops
// our agent and floods its serial port with junk, endless lines and forged answers under made-up
// nonces gets no freeze honoured and no error — its branch is taken with the disk switch inside a
// pause (`quiesced: false`), disk and memory still agree, and serve goes on answering.
import type { VmbranchClient } from "../../sdk";
import { startBackend, type TestBackend } from "../helpers/backend";
import { sequenceWriterProgram, waitForConsole } from "../helpers/guest-programs";

jest.setTimeout(300_000);

let b: TestBackend;
let client: VmbranchClient;
beforeAll(async () => {
  b = await startBackend();
  client = b.client;
}, 60_000);
afterAll(async () => {
  await b?.stop();
});

it("ignores a guest that floods the agent's port with junk and forged answers, and branches it paused", async () => {
  // The agent is killed; the port then carries junk, a line longer than any answer, and answers
  // to nonces the host never used, over and over.
  const flood = [
    "i=0; while [ ! -s /run/vmbranch/agent.pid ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done",
    "kill -9 $(cat /run/vmbranch/agent.pid)",
    "stty -F /dev/ttyS1 raw -echo",
    "( while :; do echo 'vmbranch-agent 0123456789abcdef frozen 0000'; echo 'vmbranch-agent ffff thawed 1'; head -c 2000 /dev/urandom; printf '%04000d\\n' 0; done > /dev/ttyS1 ) &",
    "echo FLOODING",
  ].join("\n");
  await client.instances.create({ name: "flood", image: "base", memory_mb: 128, args: ["sh", "-c", `${flood}\n${sequenceWriterProgram()[2]!}`], volumes: [{ name: "flood-data", size_mb: 16, at: "/data" }] });
  await client.instances.waitFor("flood", "running", { timeoutMs: 120_000 });
  await waitForConsole(client, "flood", (log) => /FLOODING[\s\S]*seq=20/.test(log), "the flood and sequence line 20");

  for (const name of ["flood1", "flood2"]) {
    const created = await client.instances.create({ name, branch_from: { name: "flood" } });
    expect(created.branch).toMatchObject({ from_memory: true, quiesced: false });
    await client.instances.waitFor(name, "running", { timeoutMs: 120_000 });
    const log = await waitForConsole(client, name, (log) => /(seq=\d+[\s\S]*){3}/.test(log), "three sequence lines");
    expect(log).not.toContain("MISMATCH");
  }
  expect((await client.instances.get("flood")).state).toBe("running");
  for (const name of ["flood2", "flood1", "flood"]) await client.instances.delete(name);
});
