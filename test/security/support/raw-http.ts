/**
 * HTTP/1.1 spoken byte for byte over a TCP (or TLS) socket, for requests no HTTP client would send
 * as written: percent-encoded or absolute-form targets, dot segments, odd methods, duplicate or
 * oversized headers, chunked bodies, and requests that stall halfway. Reads until the server
 * closes the connection (requests say `Connection: close`).
 */
import { connect as netConnect, type Socket } from "node:net";

/** A parsed answer. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  /** The body as sent (chunked bodies are decoded). */
  body: string;
  /** The body parsed as JSON, or undefined. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever JSON the server sent
  json: any;
}

/** Parses one HTTP/1.1 response from its bytes. */
export function parseAnswer(raw: Buffer): RawAnswer {
  const text = raw.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  const head = (end >= 0 ? text.slice(0, end) : text).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "")?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = end >= 0 ? raw.subarray(Buffer.byteLength(text.slice(0, end + 4), "latin1")).toString("utf8") : "";
  if (headers["transfer-encoding"] === "chunked") body = dechunk(body);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status, headers, body, json };
}

function dechunk(s: string): string {
  let out = "";
  let rest = s;
  for (;;) {
    const nl = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, nl), 16);
    if (!(size > 0)) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}

/** Opens a connection to `port` on 127.0.0.1. */
export function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}

/** Everything the server sends until it closes the connection (or `timeoutMs` passes: then rejects). */
export function readAll(s: Socket, timeoutMs = 30_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("error", () => undefined);
    s.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** Sends `request` (the whole message, headers and body) and returns the parsed answer. */
export async function send(port: number, request: string | Buffer): Promise<RawAnswer> {
  const s = await open(port);
  const answer = readAll(s);
  s.write(request);
  return parseAnswer(await answer);
}

/** A request message: `METHOD target HTTP/1.1`, the given headers (Host and Connection: close unless set), and a body. */
export function message(method: string, target: string, headers: [string, string][] = [], body = ""): string {
  const names = headers.map(([n]) => n.toLowerCase());
  const all = [...headers];
  if (!names.includes("host")) all.unshift(["Host", "127.0.0.1"]);
  if (!names.includes("connection")) all.push(["Connection", "close"]);
  if (body && !names.includes("content-length") && !names.includes("transfer-encoding")) all.push(["Content-Length", String(Buffer.byteLength(body))]);
  return `${method} ${target} HTTP/1.1\r\n${all.map(([n, v]) => `${n}: ${v}`).join("\r\n")}\r\n\r\n${body}`;
}
