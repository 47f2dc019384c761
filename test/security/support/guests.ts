/**
 * Guest programs for the security layer and what they print: network probes from inside a guest
 * (busybox nc with a deadline) and waiting for a pattern in an instance's console through the API.
 */
import type { VmbranchClient } from "../../../sdk";

/** A probe: a name and the host and port the guest tries. */
export interface Probe {
  name: string;
  host: string;
  port: number;
}

/**
 * A guest that serves "published-ok" on port 8080 (busybox httpd), then tries every probe at once
 * (an HTTP request through nc, 4 s deadline) and prints `probe <name> answered: …` or
 * `probe <name> silent`, then `probes done`, and idles.
 */
export function prober(probes: Probe[]): string[] {
  const lines = [
    "mkdir -p /www && echo published-ok > /www/index.html && httpd -p 8080 -h /www",
    "probe() {",
    "  ans=$(printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' | nc -w 4 \"$2\" \"$3\" 2>/dev/null | head -c 120 | tr -d '\\r\\n')",
    '  if [ -n "$ans" ]; then echo "probe $1 answered: $ans"; else echo "probe $1 silent"; fi',
    "}",
    ...probes.map((p) => `probe ${p.name} ${p.host} ${p.port} &`),
    "wait",
    "echo probes done",
    "while :; do sleep 3600; done",
  ];
  return ["sh", "-c", lines.join("\n")];
}

/** Each probe's outcome in a console text: name → "silent" or what answered. */
export function probeResults(console: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of console.matchAll(/^probe (\S+) (silent|answered: .*)$/gm)) out[m[1]!] = m[2]!;
  return out;
}

/** The console of `name` from its first kept byte, once `pattern` appears in it (polling the log endpoint, with a deadline). */
export async function consoleWhen(client: VmbranchClient, name: string, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await client.instances.log(name, { limit: 4 * 1024 * 1024 });
    if (pattern.test(log.output)) return log.output;
    if (Date.now() > deadline) throw new Error(`${pattern} did not appear in the console of '${name}' within ${timeoutMs} ms; it ends with:\n${log.output.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
