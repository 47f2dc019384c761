/**
 * The volume workflow of Unikraft Cloud's volumes guide (examples/volume-workflow-sdk/README.md) as a
 * Pulumi program: a persistent volume, and a web server instance that mounts it at /mnt and, on
 * every request, appends a timestamp to /mnt/log.txt and answers with the whole file.
 *
 * The guide then stops the instance, detaches the volume, deletes the instance and attaches the
 * volume to a new one. Here that is a change of `generation` (stack config, or the option): the
 * server's environment changes, which replaces the instance; the volume is mounted read-write,
 * so the provider deletes the old instance before it creates the new one, and the new server
 * answers with the old lines plus its own.
 *
 * `program()` is what index.ts runs; tests run it as an inline program (Automation API).
 */
import * as pulumi from "@pulumi/pulumi";
import * as vmbranch from "vmbranch";

/** What the program may be told (stack config `generation` and `sizeMb` when not given). */
export interface VolumeWorkflowOptions {
  /** Which web server instance this is; changing it replaces the instance (default 1). */
  generation?: number;
  /** Size of the volume in MiB (default 16). */
  sizeMb?: number;
  /** Guest image (default `base`). */
  image?: string;
}

/** The guest's main process: busybox httpd with a CGI script that logs to the volume. */
export function webServer(generation: number): { args: string[]; env: Record<string, string> } {
  const cgi = [
    "#!/bin/sh",
    "date -u +%Y-%m-%dT%H:%M:%SZ >> /mnt/log.txt",
    "printf 'Content-Type: text/plain\\r\\n\\r\\n'",
    "cat /mnt/log.txt",
  ].join("\n");
  const boot = [
    "mkdir -p /www/cgi-bin",
    'printf "%s\\n" "$CGI" > /www/cgi-bin/log',
    "chmod +x /www/cgi-bin/log",
    'echo "volume workflow, server generation $GENERATION: GET /cgi-bin/log" > /www/index.html',
    "exec httpd -f -p 8080 -h /www",
  ].join(" && ");
  return { args: ["sh", "-c", boot], env: { CGI: cgi, GENERATION: String(generation) } };
}

/** Declare the volume and the web server; returns the stack outputs. */
export function program(options: VolumeWorkflowOptions = {}) {
  const config = new pulumi.Config();
  const generation = options.generation ?? config.getNumber("generation") ?? 1;
  const sizeMb = options.sizeMb ?? config.getNumber("sizeMb") ?? 16;

  const volume = new vmbranch.Volume("my-volume", { sizeMb, tags: ["volume-workflow"] });
  const server = new vmbranch.Instance("web", {
    image: options.image ?? "base",
    ...webServer(generation),
    volumes: [{ volume: volume.name, at: "/mnt" }],
    ports: [{ guestPort: 8080 }],
    tags: ["volume-workflow"],
    // The stack's URL works as soon as `up` returns.
    readiness: { guestPort: 8080, path: "/" },
  });

  const port = server.hostPorts.apply((p) => p["8080"]);
  return {
    volume: volume.name,
    instance: server.name,
    generation,
    hostPort: port,
    url: pulumi.interpolate`http://127.0.0.1:${port}/cgi-bin/log`,
    attachedTo: server.attachedVolumes.apply((vs) => vs.map((v) => `${v.name} at ${v.at}`)),
  };
}
