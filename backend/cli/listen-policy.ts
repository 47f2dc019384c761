/**
 * Where `vmbranch serve` may listen and how: loopback by default; any other address only with TLS
 * (`--tls-cert`, `--tls-key`) or when the operator explicitly accepts plain HTTP on the network
 * (`--insecure-listen`, warned about at every start). Owns parsing `--listen` and that decision.
 */
import { isLoopbackHost } from "../api/access";
import { UsageError } from "./command-registry";

/** Parse `HOST:PORT` (IPv6 in brackets). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  if (!m) throw new UsageError(`--listen must be HOST:PORT, got '${value}'`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`--listen port out of range: ${port}`);
  return { host: (m[1] ?? m[2])!, port };
}

/** True when `host` (as given to --listen) only ever accepts connections from this machine. */
export function isLoopbackListen(host: string): boolean {
  return isLoopbackHost(host);
}

/** What the listen options allow: TLS files, or plain HTTP (loopback, or accepted off loopback). */
export type ListenPlan = { tls: { keyFile: string; certFile: string } | null; warning: string | null };

/** Decide how to listen on `host`; throws UsageError for combinations that would expose the token. */
export function planListen(host: string, o: { tlsCert?: string; tlsKey?: string; insecure?: boolean }): ListenPlan {
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  if (o.tlsCert !== undefined && o.tlsKey !== undefined) {
    if (o.insecure) throw new UsageError("--insecure-listen contradicts --tls-cert/--tls-key");
    return { tls: { certFile: o.tlsCert, keyFile: o.tlsKey }, warning: null };
  }
  if (isLoopbackListen(host)) return { tls: null, warning: null };
  if (!o.insecure)
    throw new UsageError(
      `listening on '${host}' (not loopback) needs TLS: give --tls-cert and --tls-key, or --insecure-listen to send the token in clear text over the network`,
    );
  return { tls: null, warning: `serving plain HTTP on '${host}' (--insecure-listen): the bearer token and all data cross the network unencrypted` };
}
