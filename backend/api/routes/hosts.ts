/** `GET /v1/hosts` and `GET /v1/hosts/{name}`: the hosts instances and volumes are placed on (core/hosts.ts). */
import type { FastifyPluginAsync } from "fastify";
import type { Core } from "../../core/service";
import { ok } from "../envelope";

/** Host routes. */
export function hostRoutes(core: Core): FastifyPluginAsync {
  return async (app) => {
    app.get("/hosts", async (req) => ok("hosts", core.hosts.list(), req.id, req.startedNs));
    app.get<{ Params: { name: string } }>("/hosts/:name", async (req) => ok("hosts", [core.hosts.get(req.params.name)], req.id, req.startedNs));
  };
}
