/**
 * Branching a running stateful service as a Pulumi program: `db` is a small key-value store (a
 * busybox httpd CGI script keeping one file per key on a volume, plus a counter that ticks in
 * memory), seeded when it first boots. `branches` instances are branched from it while it runs:
 * each starts with the database's data *and* memory as they were at its snapshot (the source
 * pauses for milliseconds), gets its own copy-on-write volume and its own host port, and from
 * then on diverges: what one writes, the others never see.
 *
 *   GET /cgi-bin/kv               every key=value, then ticks= and host=
 *   GET /cgi-bin/kv?get=KEY       one value
 *   GET /cgi-bin/kv?set=KEY=VALUE write one (KEY: letters, digits, '_' and '-')
 *   GET /cgi-bin/kv?ticks         the in-memory counter
 *
 * `program()` is what index.ts runs; tests and `npm run demo` run it as an inline program.
 */
import * as pulumi from "@pulumi/pulumi";
import * as vmbranch from "vmbranch";

/** What the program may be told (stack config `branches` when not given). */
export interface BranchDatabaseOptions {
  /** How many branches of the running database (default 2). */
  branches?: number;
  /** Guest image (default `base`). */
  image?: string;
}

const KV_CGI = [
  "#!/bin/sh",
  "printf 'Content-Type: text/plain\\r\\n\\r\\n'",
  'q="$QUERY_STRING"',
  'case "$q" in',
  '  set=*) kv="${q#set=}"; k="${kv%%=*}"; v="${kv#*=}" ;;',
  '  get=*) k="${q#get=}" ;;',
  "esac",
  'case "$k" in *[!A-Za-z0-9_-]*) echo "bad key"; exit 0 ;; esac',
  'case "$q" in',
  '  set=*) echo "$v" > "/data/kv/$k"; sync; echo "ok $k" ;;',
  '  get=*) cat "/data/kv/$k" 2>/dev/null || echo "(none)" ;;',
  "  ticks) cat /tmp/ticks ;;",
  '  *) for f in /data/kv/*; do echo "${f##*/}=$(cat "$f")"; done; echo "ticks=$(cat /tmp/ticks)"; echo "host=$(hostname)" ;;',
  "esac",
].join("\n");

/** The database's main process: seed once, start the in-memory counter, serve. */
export function database(): { args: string[]; env: Record<string, string> } {
  const boot = [
    "mkdir -p /data/kv /www/cgi-bin",
    "[ -e /data/kv/greeting ] || { echo hello > /data/kv/greeting; date -u +%Y-%m-%dT%H:%M:%SZ > /data/kv/created-at; }",
    "sync",
    'printf "%s\\n" "$CGI" > /www/cgi-bin/kv',
    "chmod +x /www/cgi-bin/kv",
    "echo db > /www/index.html",
    // Memory state: lives in tmpfs, so only a branch (not a restart) carries it on.
    "echo 0 > /tmp/ticks",
    "( while :; do t=$(cat /tmp/ticks); echo $((t + 1)) > /tmp/ticks; sleep 1; done ) &",
    "exec httpd -f -p 8080 -h /www",
  ].join("\n");
  return { args: ["sh", "-c", boot], env: { CGI: KV_CGI } };
}

/** Declare the database, its volume and its branches; returns the stack outputs. */
export function program(options: BranchDatabaseOptions = {}) {
  const config = new pulumi.Config();
  const count = options.branches ?? config.getNumber("branches") ?? 2;

  const data = new vmbranch.Volume("db-data", { sizeMb: 64, tags: ["branch-database"] });
  const db = new vmbranch.Instance("db", {
    image: options.image ?? "base",
    ...database(),
    volumes: [{ volume: data.name, at: "/data" }],
    ports: [{ guestPort: 8080 }],
    tags: ["branch-database", "db"],
    // Ready once the seed is written and the server answers: branches start from that.
    readiness: { guestPort: 8080, path: "/cgi-bin/kv?get=greeting" },
  });

  const url = (i: vmbranch.Instance) => pulumi.interpolate`http://127.0.0.1:${i.hostPorts.apply((p) => p["8080"])}/cgi-bin/kv`;
  const branches = [];
  for (let n = 0; n < count; n++) {
    const branch = new vmbranch.Instance(`db-branch-${n}`, {
      branchFrom: db.name,
      tags: [`branch-${n}`],
      readiness: { guestPort: 8080, path: "/cgi-bin/kv?get=greeting" },
    });
    branches.push({
      name: branch.name,
      url: url(branch),
      branchedFrom: branch.branchedFrom,
      sourcePauseMs: branch.sourcePauseMs,
      snapshotAt: branch.snapshotAt,
      branchPhase: branch.branchPhase,
    });
  }

  return {
    volume: data.name,
    db: db.name,
    dbUrl: url(db),
    branches: pulumi.output(branches),
  };
}
