/**
 * `GET /v1/doctor`: the store compared with the host (core/doctor.ts), read-only;
 * `POST /v1/doctor/repair`: the same, fixing what is safe to fix (`vmbranch doctor --repair`).
 */
import type { FastifyPluginAsync } from "fastify";
import type { Core } from "../../core/service";
import { ok } from "../envelope";

/** Doctor routes. */
export function doctorRoutes(core: Core): FastifyPluginAsync {
  return async (app) => {
    app.get("/doctor", async (req) => ok("doctor", [await core.doctor.check()], req.id, req.startedNs));
    app.post("/doctor/repair", async (req) => ok("doctor", [await core.doctor.repair()], req.id, req.startedNs));
  };
}
