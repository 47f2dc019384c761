/**
 * The CLI for people, typed as a person types it (bash, `vmbranch` on PATH from the repository's
 * npm install) against the shared lineage: tables and `--json`, the lineage tree with each
 * branch's source pause, one-line errors with exit statuses that say what failed, a branch and a
 * clone followed with a spinner on a pseudo-terminal (and nothing drawn in a pipe), the lifecycle
 * commands, `logs -f`, `--help` everywhere and bash completion. What it makes it removes.
 */
import { spawn } from "node:child_process";
import { hostname } from "node:os";
import type { Host, Instance } from "../../sdk";
import { IMAGE_DIR } from "../helpers/backend";
import type { Lineage } from "./support/lineage";
import { onTerminal, personEnv, sh } from "./support/shell";

const COMMANDS = ["ls", "get", "tree", "branch", "start", "stop", "suspend", "rm", "logs", "volumes", "templates", "hosts", "clone", "completion", "serve", "image"];

/** The CLI tests, on the shared lineage. */
export function cliTests(lineage: () => Lineage): void {
  const env = () => personEnv(lineage().backend.url, lineage().backend.token);

  describe("vmbranch (the CLI for people)", () => {
    it("is on PATH after npm install in the repository", async () => {
      const r = await sh("command -v vmbranch && vmbranch --help", env());
      expect(r.status).toBe(0);
      expect(r.stdout.split("\n")[0]).toMatch(/node_modules\/\.bin\/vmbranch$/);
      for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
    });

    it("draws the lineage as a tree with state, source pause and age", async () => {
      const { pauses } = lineage();
      const r = await sh("vmbranch tree", env());
      expect(r.status).toBe(0);
      const lines = r.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^NAME\s+STATE\s+PAUSE\s+AGE$/);
      // Columns start where their headings do.
      const starts = ["STATE", "PAUSE", "AGE"].map((h) => lines[0]!.indexOf(h));
      const rows = lines.slice(1).map((l) => [0, ...starts].map((s, k, all) => l.slice(s, all[k + 1]).trim()));
      expect(rows.map((r) => r.slice(0, 2))).toEqual([
        ["db", "running"],
        ["├─ db-a", "running"],
        ["│  └─ db-a-1", "running"],
        ["└─ db-b", "standby"],
      ]);
      // Each branch shows its own source's pause, as the API reported it at the branch.
      const shown = (ms: number) => (ms < 1000 ? `${Math.round(ms * 10) / 10}ms` : `${(ms / 1000).toFixed(1)}s`);
      expect(rows.slice(1).map((r) => r[2])).toEqual([shown(pauses["db-a"]!), shown(pauses["db-a-1"]!), shown(pauses["db-b"]!)]);
      expect(rows[0]![2]).toBe("");
      for (const r of rows) expect(r[3]).toMatch(/^\d+[smhd]$/);

      const json = await sh("vmbranch tree --json", env());
      const tree = JSON.parse(json.stdout);
      expect(tree.map((n: { name: string }) => n.name)).toEqual(["db"]);
      expect(tree[0].branches.map((n: { name: string }) => n.name)).toEqual(["db-a", "db-b"]);
      expect(tree[0].branches[0].branches.map((n: { name: string; branched_from: string }) => [n.name, n.branched_from])).toEqual([["db-a-1", "db-a"]]);
    });

    it("lists and shows instances, volumes and templates: tables for people, JSON for scripts", async () => {
      const ls = await sh("vmbranch ls", env());
      expect(ls.status).toBe(0);
      expect(ls.stdout.split("\n")[0]).toMatch(/^NAME\s+STATE\s+IMAGE\s+MEMORY\s+PORTS\s+BRANCHED FROM\s+AGE$/);
      expect(ls.stdout).toMatch(/^db-a-1\s+running\s+base\s+128M\s+-\s+db-a\s+\d+[smhd]$/m);
      const listed: Instance[] = JSON.parse((await sh("vmbranch ls --json", env())).stdout);
      expect(listed.map((i) => i.name).sort()).toEqual(["db", "db-a", "db-a-1", "db-b"]);

      const get = await sh("vmbranch get db-a-1", env());
      expect(get.stdout).toMatch(/^branched from: +db-a$/m);
      expect(get.stdout).toMatch(/^branch phase: +Succeeded$/m);
      expect(JSON.parse((await sh("vmbranch get db-a-1 --json", env())).stdout).branch.source.name).toBe("db-a");

      const vols = await sh("vmbranch volumes ls", env());
      expect(vols.stdout).toMatch(/^seed-copy\s+available\s+block\s+8M\s+-\s+seed-tpl\s+/m);
      expect(vols.stdout).toMatch(/^db-data\s+mounted\s+block\s+8M\s+db\s+/m);
      const tpls = await sh("vmbranch templates ls", env());
      expect(tpls.stdout).toMatch(/^seed-tpl\s+volume\s+8M\s+1\s+\d+[smhd]$/m);
      expect(JSON.parse((await sh("vmbranch templates ls --json", env())).stdout).volume_templates.map((v: { name: string }) => v.name)).toEqual(["seed-tpl"]);

      // The one host of a single serve, holding every instance of the lineage.
      const [host]: Host[] = JSON.parse((await sh("vmbranch hosts ls --json", env())).stdout);
      expect(host).toMatchObject({ name: hostname(), state: "online", instances: listed.length });
      const hosts = await sh("vmbranch hosts ls", env());
      expect(hosts.stdout.split("\n")[0]).toMatch(/^NAME\s+STATE\s+FREE\s+MEMORY\s+INSTANCES\s+LAST HEARTBEAT$/);
      const name = host!.name.replace(/[.]/g, "\\.");
      expect(hosts.stdout).toMatch(new RegExp(`^${name}\\s+online\\s+\\d+M\\s+${host!.memory_total_mib}M\\s+${listed.length}\\s+\\d+[smhd] ago$`, "m"));
      expect(get.stdout).toMatch(new RegExp(`^host: +${name}$`, "m"));
    });

    it("says what failed in one line, with an exit status for each kind of failure", async () => {
      const cases: [string, NodeJS.ProcessEnv, number, RegExp][] = [
        ["vmbranch get no-such", env(), 3, /^vmbranch get: Instance 'no-such' not found \(404 INSTANCE_NOT_FOUND\)$/],
        ["vmbranch branch db-b --name db-a", env(), 4, /^vmbranch branch: .*'db-a'.* \(409 NAME_TAKEN\)$/],
        ["vmbranch ls", personEnv(lineage().backend.url, "not-the-token-0123456789"), 5, /^vmbranch ls: .* \(401 UNAUTHORIZED\)$/],
        ["vmbranch ls", { ...personEnv("http://127.0.0.1:1", "t"), VMBRANCH_TOKEN: "" , VMBRANCH_DATA_DIR: "/nonexistent" }, 5, /^vmbranch ls: No vmbranch token: .*, or pass --token$/],
        ["vmbranch ls --endpoint http://127.0.0.1:1", env(), 6, /^vmbranch ls: cannot reach the server: /],
        ["vmbranch ls --bogus", env(), 2, /^vmbranch ls: Unknown option '--bogus'/],
        ["vmbranch get", env(), 2, /^vmbranch get: expected NAME$/],
        ["vmbranch branch db-b --count two", env(), 2, /^vmbranch branch: --count must be a whole number of branches, not 'two'$/],
      ];
      for (const [line, e, status, message] of cases) {
        const r = await sh(line, e);
        expect({ line, status: r.status }).toEqual({ line, status });
        expect({ line, first: r.stderr.split("\n")[0] }).toEqual({ line, first: expect.stringMatching(message) });
        if (status !== 2) expect({ line, lines: r.stderr.trimEnd().split("\n").length }).toEqual({ line, lines: 1 });
        expect(r.stdout).toBe("");
      }
    });

    it("answers --help for every command", async () => {
      for (const c of COMMANDS) {
        const r = await sh(`vmbranch ${c} --help`, env());
        expect({ c, status: r.status }).toEqual({ c, status: 0 });
        expect(r.stdout).toContain(`usage: vmbranch ${c}`);
      }
    });

    it("branches with a spinner and its phases on a terminal, and drives the branch's lifecycle", async () => {
      const e = env();
      const pty = await onTerminal("vmbranch branch db-a-1 --name cli-b", e);
      expect(pty.status).toBe(0);
      // The spinner redraws one line (carriage return, erase) with the phase, then says how it ended.
      expect(pty.stdout).toMatch(/\r\x1b\[K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] branch cli-b: (SnapshotInProgress|CreatingTarget|RestoreInProgress|Succeeded|starting)/);
      expect(pty.stdout).toMatch(/\r\x1b\[K✔ branch cli-b: running, source paused [\d.]+m?s \([\d.]+s\)\r?\n/);
      expect(pty.stdout.trimEnd().split("\n").pop()!.trim()).toBe("cli-b");

      const tree = await sh("vmbranch tree", e);
      expect(tree.stdout).toMatch(/^│  └─ db-a-1\s+running.*\n│     └─ cli-b\s+running\s+/m);

      // In a pipe nothing is drawn: stdout has the name, stderr nothing.
      const piped = await sh("vmbranch branch cli-b --name cli-b2 | cat", e);
      expect([piped.status, piped.stdout, piped.stderr]).toEqual([0, "cli-b2\n", ""]);
      // --count: branches of one snapshot, one name a line once each runs.
      const batch = await sh("vmbranch branch cli-b --name cli-m --count 2 | cat", e);
      expect([batch.status, batch.stdout, batch.stderr]).toEqual([0, "cli-m-1\ncli-m-2\n", ""]);
      const batchGot = await Promise.all(["cli-m-1", "cli-m-2"].map(async (n) => JSON.parse((await sh(`vmbranch get ${n} --json`, e)).stdout)));
      expect(batchGot.map((i) => [i.state, i.branch.snapshot_uuid])).toEqual([["running", batchGot[0].branch.snapshot_uuid], ["running", batchGot[0].branch.snapshot_uuid]]);
      expect((await sh("vmbranch rm cli-m-1 cli-m-2", e)).stdout).toBe("cli-m-1\ncli-m-2\n");

      // logs -f follows the console until the instance stops.
      const follow = spawn("bash", ["-c", "vmbranch logs -f cli-b2"], { env: e, stdio: ["ignore", "pipe", "pipe"] });
      let followed = "";
      follow.stdout.on("data", (d: Buffer) => (followed += d.toString()));
      const exited = new Promise<number | null>((r) => follow.on("close", r));
      const deadline = Date.now() + 60_000;
      while (!/tick=\d+\r?\n[\s\S]*tick=\d+\r?\n/.test(followed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(followed).toMatch(/tick=\d+/);
      expect((await sh("vmbranch stop --force cli-b2", e)).stdout).toBe("cli-b2\n");
      expect(await exited).toBe(0);
      expect((await sh("vmbranch logs cli-b2", e)).stdout).toContain(followed.trim().split("\n")[0]!);

      for (const [cmd, state] of [["suspend cli-b", "standby"], ["start cli-b", "running"], ["stop --force cli-b", "stopped"]] as const) {
        const r = await sh(`vmbranch ${cmd} --json`, e);
        expect({ cmd, status: r.status }).toEqual({ cmd, status: 0 });
        expect(JSON.parse((await sh("vmbranch get cli-b --json", e)).stdout).state).toBe(state);
      }
      const stopped = await sh("vmbranch suspend cli-b", e);
      expect(stopped.status).toBe(4);
      expect((await sh("vmbranch rm cli-b2 cli-b", e)).stdout).toBe("cli-b2\ncli-b\n");
      expect((await sh("vmbranch get cli-b", e)).status).toBe(3);
    });

    it("clones a volume template with progress on a terminal", async () => {
      const e = env();
      const pty = await onTerminal("vmbranch clone seed-tpl --name cli-copy", e);
      expect(pty.status).toBe(0);
      expect(pty.stdout).toMatch(/✔ clone cli-copy: available \([\d.]+s\)/);
      const v = JSON.parse((await sh("vmbranch volumes ls --json", e)).stdout).find((x: { name: string }) => x.name === "cli-copy");
      expect(v).toMatchObject({ state: "available", clone: { source: { name: "seed-tpl" } } });
      expect((await lineage().backend.http("DELETE", "/v1/volumes/cli-copy")).status).toBe(200);
    });

    it("shows an image build as a spinner on a terminal and as log lines in a pipe", async () => {
      const e = { ...env(), VMBRANCH_IMAGE_DIR: IMAGE_DIR };
      const pty = await onTerminal("vmbranch image build base", e);
      expect(pty.status).toBe(0);
      expect(pty.stdout).toMatch(/\r\x1b\[K✔ image build base: up to date \([\d.]+s\)/);
      const piped = await sh("vmbranch image build base 2>&1 | cat", e);
      expect(piped.stdout).not.toContain("\x1b[K");
      expect(piped.stdout).toMatch(/^image base is up to date/m);
    });

    it("completes commands, flags and names in bash", async () => {
      const complete = async (words: string[]) => {
        const script = `source <(vmbranch completion bash); COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(" ")}); COMP_CWORD=${words.length - 1}; _vmbranch; printf '%s\\n' "\${COMPREPLY[@]}"`;
        const r = await sh(script, env());
        expect(r.stderr).toBe("");
        return r.stdout.trim().split("\n").filter(Boolean).sort();
      };
      expect(await complete(["vmbranch", "tr"])).toEqual(["tree"]);
      expect(await complete(["vmbranch", "s"])).toEqual(["serve", "start", "stop", "store", "suspend"]);
      expect(await complete(["vmbranch", "store", ""])).toEqual(["migrate"]);
      expect(await complete(["vmbranch", "get", "db-a"])).toEqual(["db-a", "db-a-1"]);
      expect(await complete(["vmbranch", "branch", "--n"])).toEqual(["--name", "--no-wait"]);
      expect(await complete(["vmbranch", "clone", "seed"])).toEqual(["seed", "seed-copy", "seed-tpl"]);
      expect(await complete(["vmbranch", "volumes", ""])).toEqual(["ls"]);
      const bad = await sh("vmbranch completion fish", env());
      expect([bad.status, bad.stderr.split("\n")[0]]).toEqual([2, "vmbranch completion: no completion for 'fish': only bash"]);
    });
  });
}
