/**
 * `/ui`: the read-only lineage page (backend/ui, bundled by esbuild into `ui/` beside the CLI
 * bundle). Its three files are static and hold no data, so they are public routes; everything
 * the page shows it fetches from `/v1` with the token the person signs in with (docs/security.md,
 * "The lineage page"). A strict Content-Security-Policy allows nothing but this origin's own files.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { ApiError } from "../../core/errors";

const FILES: Record<string, { file: string; type: string }> = {
  "/ui": { file: "index.html", type: "text/html; charset=utf-8" },
  "/ui/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/ui/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

/** The `METHOD url` of each route of the page (all public: access.ts). */
export const UI_ROUTES = Object.keys(FILES).flatMap((url) => [`GET ${url}`, `HEAD ${url}`]);

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("cache-control", "no-cache");
}

/** The page's routes, serving the built files of `uiDir`. */
export function uiRoutes(uiDir: string | undefined): FastifyPluginAsync {
  return async (app) => {
    for (const [url, { file, type }] of Object.entries(FILES)) {
      app.get(url, async (_req, reply) => {
        let body: Buffer;
        try {
          if (!uiDir) throw new Error("no ui directory");
          body = await readFile(join(uiDir, file));
        } catch {
          throw new ApiError("ROUTE_NOT_FOUND", "The lineage page is not built into this server (npm run build)");
        }
        return secure(reply).type(type).send(body);
      });
    }
  };
}
