/**
 * A golden image as a Pulumi program: a one-shot instance prepares a volume (a small web site
 * with a CGI script), a VolumeTemplate freezes the prepared contents (a copy-on-write copy: the
 * volume itself stays writable), and `copies` VolumeClones of the template each serve their own
 * web server instance. Every copy starts with the golden contents and then counts its own hits,
 * which the others never see.
 *
 * `program()` is what index.ts runs; tests run it as an inline program (Automation API).
 */
import * as pulumi from "@pulumi/pulumi";
import * as vmbranch from "vmbranch";

/** What the program may be told (stack config `copies` and `message` when not given). */
export interface GoldenImageOptions {
  /** How many clones and web servers (default 3). */
  copies?: number;
  /** What the golden site says (default "hello from the golden image"). */
  message?: string;
  /** Guest image (default `base`). */
  image?: string;
}

/** The site's CGI script, as the preparation writes it into the volume (mounted at /srv later). */
const HELLO_CGI = [
  "#!/bin/sh",
  "date -u +%s >> /srv/hits",
  "printf 'Content-Type: text/plain\\r\\n\\r\\n'",
  'echo "$(cat /srv/www/message.txt)"',
  'echo "served by $(hostname), golden image prepared at $(cat /srv/www/prepared-at)"',
  'echo "hits on this copy: $(wc -l < /srv/hits)"',
].join("\n");

/** The one-shot preparation: write the site into the volume mounted at /data, flush, exit 0. */
export function preparation(message: string): { args: string[]; env: Record<string, string> } {
  const script = [
    "set -e",
    "mkdir -p /data/www/cgi-bin",
    'printf "%s\\n" "$MESSAGE" > /data/www/message.txt',
    'printf "<p>%s</p><p><a href=/cgi-bin/hello>hello</a></p>\\n" "$MESSAGE" > /data/www/index.html',
    'printf "%s\\n" "$CGI" > /data/www/cgi-bin/hello',
    "chmod +x /data/www/cgi-bin/hello",
    "date -u +%Y-%m-%dT%H:%M:%SZ > /data/www/prepared-at",
    ": > /data/hits",
    "sync",
  ].join("\n");
  return { args: ["sh", "-c", script], env: { MESSAGE: message, CGI: HELLO_CGI } };
}

/** Declare the golden volume, its preparation, the template, the clones and their servers. */
export function program(options: GoldenImageOptions = {}) {
  const config = new pulumi.Config();
  const copies = options.copies ?? config.getNumber("copies") ?? 3;
  const message = options.message ?? config.get("message") ?? "hello from the golden image";
  const image = options.image ?? "base";

  const golden = new vmbranch.Volume("golden-data", { sizeMb: 32, tags: ["golden-image"] });
  // A job: create waits until its main process has exited with 0, then it stays stopped.
  const prepare = new vmbranch.Instance("prepare", {
    image,
    ...preparation(message),
    volumes: [{ volume: golden.name, at: "/data" }],
    waitForExit: true,
    tags: ["golden-image"],
  });
  // Freeze the volume only once the preparation is done.
  const template = new vmbranch.VolumeTemplate("golden", { sourceVolume: golden.name, tags: ["golden-image"] }, { dependsOn: [prepare] });

  const sites = [];
  for (let i = 0; i < copies; i++) {
    const clone = new vmbranch.VolumeClone(`site-${i}`, { source: template.name, tags: ["golden-image"] });
    const server = new vmbranch.Instance(`web-${i}`, {
      image,
      args: ["httpd", "-f", "-p", "8080", "-h", "/srv/www"],
      volumes: [{ volume: clone.name, at: "/srv" }],
      ports: [{ guestPort: 8080 }],
      readiness: { guestPort: 8080, path: "/" },
      tags: ["golden-image"],
    });
    const port = server.hostPorts.apply((p) => p["8080"]);
    sites.push({ clone: clone.name, instance: server.name, url: pulumi.interpolate`http://127.0.0.1:${port}/cgi-bin/hello` });
  }

  return {
    goldenVolume: golden.name,
    preparedBy: prepare.name,
    preparationExitCode: prepare.exitCode,
    template: template.name,
    templateSizeMb: template.sizeMb,
    sites: pulumi.output(sites),
    urls: pulumi.all(sites.map((s) => s.url)),
  };
}
