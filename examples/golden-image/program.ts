/**
 * A golden image as a Pulumi program, with the `GoldenImage` component: a one-shot instance
 * prepares a volume (a small web site with a CGI script), a VolumeTemplate freezes the prepared
 * contents (a copy-on-write copy), and `copies` VolumeClones of the template each serve their own
 * web server instance. Every copy starts with the golden contents and then counts its own hits,
 * which the others never see. Changing `message` re-bakes: a new job writes the new site, and new
 * template, clones and servers follow, in one replace chain that `pulumi preview` shows.
 *
 * `program()` is what index.ts runs (tests deploy the directory as a project with `pulumi up`).
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

/** Declare the pipeline (one GoldenImage: preparation, template, clones, servers) and what to report. */
export function program(options: GoldenImageOptions = {}) {
  const config = new pulumi.Config();
  const copies = options.copies ?? config.getNumber("copies") ?? 3;
  const message = options.message ?? config.get("message") ?? "hello from the golden image";
  const image = options.image ?? "base";

  // A changed message changes the job's env: the job, the template, the clones and the servers
  // are replaced in one chain, and the new servers serve the new site.
  const site = new vmbranch.GoldenImage("site", {
    sizeMb: 32,
    prepare: { image, ...preparation(message), mountAt: "/data" },
    clones: copies,
    instances: {
      image,
      args: ["httpd", "-f", "-p", "8080", "-h", "/srv/www"],
      mountAt: "/srv",
      ports: [{ guestPort: 8080 }],
      readiness: { guestPort: 8080, path: "/" },
    },
    tags: ["golden-image"],
  });

  const sites = site.instances.map((server, i) => {
    const port = server.hostPorts.apply((p) => p["8080"]);
    return { clone: site.cloneNames.apply((names) => names[i] as string), instance: server.name, url: pulumi.interpolate`http://127.0.0.1:${port}/cgi-bin/hello` };
  });

  return {
    goldenVolume: site.template.sourceVolumeName,
    preparedBy: site.job.name,
    preparationExitCode: site.job.exitCode,
    template: site.templateName,
    templateSizeMb: site.template.sizeMb,
    sites: pulumi.output(sites),
    urls: pulumi.all(sites.map((s) => s.url)),
  };
}
