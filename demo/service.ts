/**
 * The demo's `vmbranch serve`: reuse one that already answers on the default address, otherwise
 * start it in the background on its embedded defaults (data dir ~/.vmbranch, 127.0.0.1:7480),
 * logging to <data-dir>/serve.log; and stop it for `--destroy`.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Where the demo's service lives. */
export interface DemoService {
  url: string;
  token: string;
  dataDir: string;
  startedHere: boolean;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
    return res.ok && ((await res.json()) as { status?: string }).status === "ok";
  } catch {
    return false;
  }
}

/** The running service, started if needed. */
export async function ensureService(repo: string, dataDir: string, url = "http://127.0.0.1:7480"): Promise<DemoService> {
  let startedHere = false;
  if (!(await healthy(url))) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const log = openSync(join(dataDir, "serve.log"), "a");
    // Detached: the service outlives the demo, as a real deployment would; `--destroy` stops it.
    const child = spawn(process.execPath, [join(repo, "backend", "dist", "vmbranch.js"), "serve", "--data-dir", dataDir, "--listen", new URL(url).host], {
      detached: true,
      stdio: ["ignore", log, log],
      env: { ...process.env, VMBRANCH_IMAGE_DIR: "" },
    });
    child.unref();
    startedHere = true;
    const deadline = Date.now() + 30_000;
    while (!(await healthy(url))) {
      if (Date.now() > deadline) throw new Error(`vmbranch serve did not come up on ${url}; see ${join(dataDir, "serve.log")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const tokenFile = join(dataDir, "token");
  const token = process.env.VMBRANCH_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : "");
  if (!token) throw new Error(`a vmbranch serve answers on ${url} but its token is not in ${tokenFile}; set VMBRANCH_TOKEN`);
  return { url, token, dataDir, startedHere };
}

/** Stop the service of `dataDir` (its VMs are already destroyed); false when none was running. */
export async function stopService(dataDir: string): Promise<boolean> {
  const pidFile = join(dataDir, "serve.pid");
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return false;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}
