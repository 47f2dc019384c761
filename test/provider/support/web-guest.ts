/**
 * A small web server for `base` guests (busybox httpd with a CGI shell script): `GET /` answers
 * "ok", `GET /cgi-bin/log?<tag>` appends "<unix time> <tag>" to <dir>/log.txt and returns the file.
 * Used by the provider tests to see which data an instance (or a branch of it) has.
 */

/** `args` and `env` of an instance serving on `port` with its log in `dir`. */
export function webServer(dir = "/data", port = 8080): { args: string[]; env: Record<string, string> } {
  const cgi = ["#!/bin/sh", `echo "$(date +%s) $QUERY_STRING" >> ${dir}/log.txt`, "printf 'Content-Type: text/plain\\r\\n\\r\\n'", `cat ${dir}/log.txt`].join("\n");
  const boot = `mkdir -p /www/cgi-bin && printf '%s\\n' "$CGI" > /www/cgi-bin/log && chmod +x /www/cgi-bin/log && echo ok > /www/index.html && exec httpd -f -p ${port} -h /www`;
  return { args: ["sh", "-c", boot], env: { CGI: cgi } };
}

/** GET the log CGI of the server at `hostPort`, tagging the request; returns the log's lines. */
export async function hitLog(hostPort: number, tag: string): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${hostPort}/cgi-bin/log?${tag}`);
  if (res.status !== 200) throw new Error(`GET /cgi-bin/log answered ${res.status}`);
  return (await res.text()).trim().split("\n").map((l) => l.replace(/^\d+ /, ""));
}
