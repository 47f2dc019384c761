/**
 * The volume workflow of Unikraft Cloud's volumes guide (README.md beside this file), against
 * `vmbranch serve` with the vmbranch SDK: create a volume, run a web server that appends a
 * timestamp to /mnt/log.txt on every request and answers with the file, request it a few times
 * through the published port, stop the instance, detach the volume, delete the instance, attach
 * the volume to a new instance and see the old lines plus a new one. Then clean up.
 *
 * `runVolumeWorkflow(client)` does the work and returns what it saw (the integration test runs the
 * same function); run this file directly to print it. Connection settings come from
 * VMBRANCH_ENDPOINT and VMBRANCH_TOKEN (see README.md).
 */
import { VmbranchClient, type Instance, type Volume } from "vmbranch/sdk";

/** What the workflow may be told. */
export interface VolumeWorkflowOptions {
  /** Prefix of every name it creates, so several runs can share a server (default `vw-<random>-`). */
  prefix?: string;
  /** How many requests the first web server gets (default 3). */
  requests?: number;
  /** Guest image (default `base`, built by `vmbranch image build base`). */
  image?: string;
  /** Deadline for each instance to boot, in ms (default 120 s: guests may run under TCG). */
  bootTimeoutMs?: number;
  /** Remove what it created at the end (default true). */
  cleanup?: boolean;
  /** Progress output (default: none). */
  log?: (line: string) => void;
}

/** What the workflow saw. */
export interface VolumeWorkflowResult {
  volume: Volume;
  /** The first instance as it was right before deletion (stopped, volume detached). */
  firstInstance: Instance;
  /** The second instance, running with the volume attached. */
  secondInstance: Instance;
  /** Bodies of the first server's answers, in order. */
  firstResponses: string[];
  /** Body of the second server's one answer. */
  finalResponse: string;
}

/** The port the guest's web server listens on. */
export const GUEST_PORT = 8080;

/** The CGI program: on every request, append a UTC timestamp to /mnt/log.txt and answer with the file. */
export const LOG_CGI = [
  "#!/bin/sh",
  "date -u +%Y-%m-%dT%H:%M:%SZ >> /mnt/log.txt",
  "printf 'Content-Type: text/plain\\r\\n\\r\\n'",
  "cat /mnt/log.txt",
].join("\n");

/**
 * The guest's main process: install the CGI as the index of /www and run busybox httpd in the
 * foreground (the guest image is busybox; this stands in for the guide's Flask server).
 */
export const WEB_SERVER_ARGS = [
  "sh",
  "-c",
  `mkdir -p /www/cgi-bin && printf '%s\\n' "$LOG_CGI" > /www/cgi-bin/index.cgi && chmod +x /www/cgi-bin/index.cgi && exec httpd -f -p ${GUEST_PORT} -h /www`,
];

/** The host port a running instance publishes its web server on. */
function hostPortOf(instance: Instance): number {
  const port = instance.ports.find((p) => p.guest_port === GUEST_PORT);
  if (!port) throw new Error(`instance '${instance.name}' does not publish port ${GUEST_PORT}`);
  return port.host_port;
}

/**
 * GET the web server once. Right after boot httpd may not listen yet: connection failures are
 * retried until `deadlineMs`, an HTTP answer is not (a request that reached the CGI must not repeat).
 */
async function request(instance: Instance, deadlineMs: number): Promise<string> {
  const url = `http://127.0.0.1:${hostPortOf(instance)}/`;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      if (Date.now() > deadlineMs) throw new Error(`${url} did not answer: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${body}`);
    return body;
  }
}

/** Run the workflow on `client`'s server. */
export async function runVolumeWorkflow(client: VmbranchClient, options: VolumeWorkflowOptions = {}): Promise<VolumeWorkflowResult> {
  const prefix = options.prefix ?? `vw-${Math.random().toString(36).slice(2, 8)}-`;
  const requests = options.requests ?? 3;
  const image = options.image ?? "base";
  const bootTimeoutMs = options.bootTimeoutMs ?? 120_000;
  const log = options.log ?? (() => undefined);
  const created: { instances: string[]; volume?: string } = { instances: [] };
  const webServer = { image, args: WEB_SERVER_ARGS, env: { LOG_CGI }, ports: [{ guest_port: GUEST_PORT }] };

  try {
    // 1. The volume: 16 MiB, ext4, attached to nothing yet.
    const volume = await client.volumes.create({ name: `${prefix}my-volume`, size_mb: 16 });
    created.volume = volume.uuid;
    log(`created volume ${volume.name} (${volume.uuid}), ${volume.size_mb} MiB ${volume.filesystem}, attached to: none`);

    // 2. A web server with the volume mounted at /mnt and its port published.
    const first = await client.instances.create({ name: `${prefix}web-1`, ...webServer, volumes: [{ name: volume.name, at: "/mnt" }] });
    created.instances.push(first.uuid);
    const running = await client.instances.waitFor(first.uuid, "running", { timeoutMs: bootTimeoutMs });
    log(`instance ${running.name} is running; web server on http://127.0.0.1:${hostPortOf(running)}/`);

    // 3. Several requests: each appends a line and answers with the whole file.
    const firstResponses: string[] = [];
    for (let i = 0; i < requests; i++) {
      firstResponses.push(await request(running, Date.now() + bootTimeoutMs));
      log(`request ${i + 1}:\n${firstResponses[i]!.trimEnd()}`);
    }

    // 4. Stop the instance, detach the volume, delete the instance.
    await client.instances.stop(first.uuid);
    await client.volumes.detach(volume.uuid, { from: { uuid: first.uuid } });
    const firstInstance = await client.instances.get(first.uuid);
    await client.instances.delete(first.uuid);
    created.instances = created.instances.filter((u) => u !== first.uuid);
    log(`stopped ${first.name}, detached ${volume.name}, deleted ${first.name}`);

    // 5. A new instance; the same volume attached to it at /mnt; start it.
    const second = await client.instances.create({ name: `${prefix}web-2`, ...webServer, autostart: false });
    created.instances.push(second.uuid);
    await client.volumes.attach(volume.uuid, { attach_to: { uuid: second.uuid }, at: "/mnt" });
    await client.instances.start(second.uuid);
    const secondInstance = await client.instances.waitFor(second.uuid, "running", { timeoutMs: bootTimeoutMs });
    log(`instance ${secondInstance.name} is running with ${volume.name} at /mnt`);

    // 6. One last request: the previous lines plus a new one at the bottom.
    const finalResponse = await request(secondInstance, Date.now() + bootTimeoutMs);
    log(`final request:\n${finalResponse.trimEnd()}`);
    return { volume: await client.volumes.get(volume.uuid), firstInstance, secondInstance, firstResponses, finalResponse };
  } finally {
    if (options.cleanup ?? true) await cleanUp(client, created, log);
  }
}

/** Delete what the workflow created: instances first (stopping them), then the volume once detached. */
async function cleanUp(client: VmbranchClient, created: { instances: string[]; volume?: string }, log: (line: string) => void): Promise<void> {
  for (const uuid of created.instances) {
    await client.instances.stop(uuid, { force: true }).catch(() => undefined);
    await client.instances.delete(uuid).catch((err: Error) => log(`could not delete instance ${uuid}: ${err.message}`));
  }
  if (created.volume) {
    await client.volumes.detach(created.volume).catch(() => undefined);
    await client.volumes.delete(created.volume).catch((err: Error) => log(`could not delete volume ${created.volume}: ${err.message}`));
  }
  log("cleaned up");
}

async function main(): Promise<void> {
  const client = VmbranchClient.fromEnv();
  try {
    const result = await runVolumeWorkflow(client, { log: (line) => console.log(line) });
    const before = result.firstResponses.at(-1)!.trim().split("\n");
    const after = result.finalResponse.trim().split("\n");
    const kept = before.every((line, i) => after[i] === line) && after.length === before.length + 1;
    console.log(kept ? "the volume kept every line, and the new instance added one" : "UNEXPECTED: the volume lost data");
    process.exitCode = kept ? 0 : 1;
  } finally {
    await client.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
