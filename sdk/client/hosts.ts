/**
 * `client.hosts`: the machines the server places instances and volumes on (`/v1/hosts`), with
 * their heartbeat state, memory and instance count. Read-only: hosts register themselves.
 */
import { HostsEnvelopeSchema, type Host } from "../schemas";
import { callMany, callOne } from "./calls";
import { pathSegment, type RequestOptions } from "./options";
import type { Transport } from "./transport";

const BASE = "/v1/hosts";

/** Host endpoints. Obtain through `client.hosts`. */
export class Hosts {
  constructor(private readonly transport: Transport) {}

  /** Every host, by name. */
  list(options?: RequestOptions): Promise<Host[]> {
    return callMany<Host>(this.transport, { method: "GET", path: BASE, schema: HostsEnvelopeSchema, options }, "hosts");
  }

  /** One host by name; `NotFoundError` (`HOST_NOT_FOUND`) when there is none. */
  get(name: string, options?: RequestOptions): Promise<Host> {
    return callOne<Host>(this.transport, { method: "GET", path: `${BASE}/${pathSegment(name)}`, schema: HostsEnvelopeSchema, options }, "hosts");
  }
}
