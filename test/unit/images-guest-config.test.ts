// Guest configuration rendering: quoting, validation, and a round trip through real shells that
// sources the fragment and rebuilds argv and env the way guest/init does.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { GuestConfigError, normaliseCidr, renderGuestConfig, shellQuote, validateHostname, validateMountPath } from "../../backend/host/images/guest-config";
import { DEFAULT_9P_MSIZE, type GuestConfig } from "../../backend/host/images/guest-protocol";

const NASTY = [
  "",
  "plain",
  "it's",
  "'",
  "''",
  "'\\''",
  'double "quotes"',
  "$HOME ${HOME} $(id) `id`",
  "back\\slash\\",
  "new\nline\n",
  "\ttab and  spaces ",
  "; rm -rf / #",
  "* ? [a-z] ~",
  "-n",
  "--",
  "ünïcødé ✓",
  "a=b",
  "!event",
];

const base: GuestConfig = { hostname: "vm-1", args: [], env: {}, mounts: [], network: null };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "vmbranch-guest-config-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Sources the rendered config in `shell` and prints argv and the exported env, NUL-separated. */
function roundTrip(shell: string[], cfg: GuestConfig): { args: string[]; env: Record<string, string>; vars: Record<string, string> } {
  const file = path.join(dir, "config");
  writeFileSync(file, renderGuestConfig(cfg));
  // Mirrors guest/init: argv via set --, env exported in a subshell, then print both.
  const script = `
    . "$1"
    set --
    i=0
    while [ $i -lt "$VMB_ARGC" ]; do eval "set -- \\"\\$@\\" \\"\\$VMB_ARG_$i\\""; i=$((i + 1)); done
    for a in "$@"; do printf 'ARG=%s\\0' "$a"; done
    printf 'VAR=HOSTNAME=%s\\0VAR=NET=%s\\0VAR=MOUNTC=%s\\0' "$VMB_HOSTNAME" "$VMB_NET" "$VMB_MOUNTC"
    i=0
    while [ $i -lt "$VMB_MOUNTC" ]; do
      eval "printf 'VAR=M%s=%s|%s|%s|%s|%s|%s|%s\\0' $i \\"\\$VMB_MOUNT_\${i}_KIND\\" \\"\\$VMB_MOUNT_\${i}_SOURCE\\" \\"\\$VMB_MOUNT_\${i}_AT\\" \\"\\$VMB_MOUNT_\${i}_READONLY\\" \\"\\$VMB_MOUNT_\${i}_FSTYPE\\" \\"\\$VMB_MOUNT_\${i}_UID:\\$VMB_MOUNT_\${i}_GID\\" \\"\\$VMB_MOUNT_\${i}_MSIZE\\""
      i=$((i + 1))
    done
    ( i=0
      while [ $i -lt "$VMB_ENVC" ]; do eval "export \\"\\$VMB_ENV_\${i}_NAME=\\$VMB_ENV_\${i}_VALUE\\""; i=$((i + 1)); done
      i=0
      while [ $i -lt "$VMB_ENVC" ]; do eval "n=\\$VMB_ENV_\${i}_NAME"; eval "printf 'ENV=%s=%s\\0' \\"\\$n\\" \\"\\$$n\\""; i=$((i + 1)); done )
  `;
  const out = execFileSync(shell[0]!, [...shell.slice(1), "-c", script, "sh", file], { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  const result = { args: [] as string[], env: {} as Record<string, string>, vars: {} as Record<string, string> };
  for (const rec of out.split("\0").filter((r) => r.length > 0)) {
    const [kind, rest] = [rec.slice(0, rec.indexOf("=")), rec.slice(rec.indexOf("=") + 1)];
    if (kind === "ARG") result.args.push(rest);
    else {
      const eq = rest.indexOf("=");
      (kind === "ENV" ? result.env : result.vars)[rest.slice(0, eq)] = rest.slice(eq + 1);
    }
  }
  return result;
}

const shells = [["sh"], ["busybox", "sh"]].filter(([bin]) => ["/bin", "/usr/bin"].some((d) => existsSync(path.join(d, bin!))));

describe("shellQuote", () => {
  it.each(NASTY)("quotes %j so sh reads it back unchanged", (value) => {
    const out = execFileSync("sh", ["-c", `printf '%s' ${shellQuote(value)}`], { encoding: "utf8" });
    expect(out).toBe(value);
  });

  it("uses single quotes only, closing and reopening around a quote", () => {
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
    expect(shellQuote("")).toBe("''");
  });

  it("refuses NUL, which no shell variable can hold", () => {
    expect(() => shellQuote("a\0b")).toThrow(GuestConfigError);
  });
});

describe("renderGuestConfig round trip", () => {
  const cfg: GuestConfig = {
    hostname: "web-1.example",
    args: ["sh", "-c", "echo \"$FOO\" 'x' `true` $(true)\nexit 3", ...NASTY],
    env: { FOO: "it's $HOME `id`\n", EMPTY: "", IFS: ":", PATH: "/custom/bin:/bin", _under: "ünï" },
    mounts: [
      { kind: "9p", tag: "share_0", at: "/data/with space/x", readonly: false, uid: 1000, gid: 100 },
      { kind: "block", serial: "vol-0.a_b", at: "/data", readonly: true, fstype: "ext4" },
    ],
    network: { address: "10.0.2.15/24", gateway: "10.0.2.2", dns: "10.0.2.3" },
  };

  it.each(shells.map((s) => [s.join(" "), s] as const))("%s sources it and gets argv, env and mounts back exactly", (_name, shell) => {
    const got = roundTrip(shell, cfg);
    expect(got.args).toEqual(cfg.args);
    expect(got.env).toEqual(cfg.env);
    expect(got.vars.HOSTNAME).toBe("web-1.example");
    expect(got.vars.NET).toBe("1");
    expect(got.vars.MOUNTC).toBe("2");
    // Parents first: /data sorts before /data/with space/x whatever the input order.
    expect(got.vars.M0).toBe("block|vol-0.a_b|/data|1|ext4|0:0|");
    expect(got.vars.M1).toBe(`9p|share_0|/data/with space/x|0|9p|1000:100|${DEFAULT_9P_MSIZE}`);
  });

  it("renders empty args, env and mounts and no network", () => {
    const text = renderGuestConfig(base);
    expect(text).toContain("VMB_ARGC=0\n");
    expect(text).toContain("VMB_ENVC=0\n");
    expect(text).toContain("VMB_MOUNTC=0\n");
    expect(text).toContain("VMB_NET=0\n");
    expect(roundTrip(["sh"], base).args).toEqual([]);
  });

  it("is deterministic: env order does not change the bytes", () => {
    const a = renderGuestConfig({ ...base, env: { B: "2", A: "1" } });
    const b = renderGuestConfig({ ...base, env: { A: "1", B: "2" } });
    expect(a).toBe(b);
  });

  it("defaults a bare address to /24", () => {
    expect(renderGuestConfig({ ...base, network: { address: "10.0.2.15", gateway: "10.0.2.2", dns: "10.0.2.3" } })).toContain("VMB_NET_ADDRESS=10.0.2.15/24\n");
  });
});

describe("renderGuestConfig validation", () => {
  const bad: [string, Partial<GuestConfig>][] = [
    ["env name with a space", { env: { "A B": "x" } }],
    ["env name starting with a digit", { env: { "1A": "x" } }],
    ["env name with $", { env: { "A$": "x" } }],
    ["env value with NUL", { env: { A: "x\0y" } }],
    ["arg with NUL", { args: ["a\0"] }],
    ["hostname with quote", { hostname: "a'b" }],
    ["empty hostname", { hostname: "" }],
    ["hostname label starting with -", { hostname: "-a" }],
    ["relative mount path", { mounts: [{ kind: "block", serial: "v", at: "data", readonly: false, fstype: "ext4" }] }],
    ["mount at /", { mounts: [{ kind: "block", serial: "v", at: "/", readonly: false, fstype: "ext4" }] }],
    ["mount path with ..", { mounts: [{ kind: "block", serial: "v", at: "/a/../b", readonly: false, fstype: "ext4" }] }],
    ["serial too long", { mounts: [{ kind: "block", serial: "x".repeat(21), at: "/a", readonly: false, fstype: "ext4" }] }],
    ["serial with quote", { mounts: [{ kind: "block", serial: "a'b", at: "/a", readonly: false, fstype: "ext4" }] }],
    ["fstype with option", { mounts: [{ kind: "block", serial: "v", at: "/a", readonly: false, fstype: "ext4,x" }] }],
    ["9p tag too long", { mounts: [{ kind: "9p", tag: "t".repeat(32), at: "/a", readonly: false, uid: 0, gid: 0 }] }],
    ["negative uid", { mounts: [{ kind: "9p", tag: "t", at: "/a", readonly: false, uid: -1, gid: 0 }] }],
    ["fractional gid", { mounts: [{ kind: "9p", tag: "t", at: "/a", readonly: false, uid: 0, gid: 1.5 }] }],
    [
      "two mounts at one path",
      {
        mounts: [
          { kind: "block", serial: "a", at: "/a", readonly: false, fstype: "ext4" },
          { kind: "block", serial: "b", at: "/a", readonly: false, fstype: "ext4" },
        ],
      },
    ],
    ["bad address", { network: { address: "10.0.2.256/24", gateway: "10.0.2.2", dns: "10.0.2.3" } }],
    ["bad prefix", { network: { address: "10.0.2.15/33", gateway: "10.0.2.2", dns: "10.0.2.3" } }],
    ["gateway with shell", { network: { address: "10.0.2.15/24", gateway: "$(x)", dns: "10.0.2.3" } }],
  ];

  it.each(bad)("rejects %s", (_name, patch) => {
    expect(() => renderGuestConfig({ ...base, ...patch })).toThrow(GuestConfigError);
  });

  it("accepts edge cases that are valid", () => {
    expect(() => validateHostname("a".repeat(63))).not.toThrow();
    expect(() => validateMountPath("/a b/ü")).not.toThrow();
    expect(normaliseCidr("192.168.0.1/0")).toBe("192.168.0.1/0");
  });
});
