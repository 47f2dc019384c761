/** `GET /v1/images`: images in the local image store. */
import type { FastifyPluginAsync } from "fastify";
import type { Core } from "../../core/service";
import { ok } from "../envelope";

/** Image routes. */
export function imageRoutes(core: Core): FastifyPluginAsync {
  return async (app) => {
    app.get("/images", async (req) => ok("images", await core.ctx.images.list(), req.id, req.startedNs));
  };
}
