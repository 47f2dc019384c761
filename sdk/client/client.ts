/**
 * `VmbranchClient`: the entry point of the SDK. Owns configuration (explicit or from the
 * environment at call time), the resource groups (`instances`, `volumes`, `images`, `hosts`),
 * `health()`, a raw `request` escape hatch, and `close()`. Holds no global state: every client has its own
 * transport and agent, so the Pulumi provider can build one inside each method.
 */
import type { z } from "zod";
import { HealthSchema, ImagesEnvelopeSchema, type Image } from "../schemas";
import { callMany } from "./calls";
import { Hosts } from "./hosts";
import { Instances } from "./instances";
import { normaliseEndpoint, resolveEnvOptions, DEFAULT_ENDPOINT, type RequestOptions, type VmbranchClientOptions } from "./options";
import { Transport, type ApiResponse, type HttpMethod } from "./transport";
import { Volumes } from "./volumes";

/** `GET /healthz` answer. */
export type Health = z.infer<typeof HealthSchema>;

/** Image endpoints. Obtain through `client.images`. */
export class Images {
  constructor(private readonly transport: Transport) {}

  /** List the images in the server's local image store. */
  list(options?: RequestOptions): Promise<Image[]> {
    return callMany<Image>(this.transport, { method: "GET", path: "/v1/images", schema: ImagesEnvelopeSchema, options }, "images");
  }
}

/** Options of the raw `request` escape hatch. */
export interface RawRequestOptions<S extends z.ZodType> extends RequestOptions {
  /** JSON body. */
  json?: unknown;
  /** Schema the answer must match (the envelope, usually). */
  schema: S;
}

/** A typed client for `vmbranch serve`. Call `close()` when done to release its connections. */
export class VmbranchClient {
  /** Instances, their lifecycle, branches, waits and logs; `instances.templates` for instance templates. */
  readonly instances: Instances;
  /** Volumes, attach/detach, import, clones; `volumes.templates` for volume templates. */
  readonly volumes: Volumes;
  /** The local image store. */
  readonly images: Images;
  /** The hosts instances and volumes are placed on. */
  readonly hosts: Hosts;
  /** The normalised endpoint this client talks to. */
  readonly endpoint: string;
  private readonly transport: Transport;

  /** Build a client; `token` is required, `endpoint` defaults to http://127.0.0.1:7480. */
  constructor(options: VmbranchClientOptions) {
    if (typeof options?.token !== "string" || options.token === "") throw new TypeError("VmbranchClient needs a non-empty 'token'");
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) throw new TypeError("'timeoutMs' must be a positive number");
    if (options.maxRetries !== undefined && !(Number.isInteger(options.maxRetries) && options.maxRetries >= 0))
      throw new TypeError("'maxRetries' must be a non-negative integer");
    this.endpoint = normaliseEndpoint(options.endpoint ?? DEFAULT_ENDPOINT);
    this.transport = new Transport({ ...options, endpoint: this.endpoint });
    this.instances = new Instances(this.transport);
    this.volumes = new Volumes(this.transport);
    this.images = new Images(this.transport);
    this.hosts = new Hosts(this.transport);
  }

  /**
   * A client configured from `VMBRANCH_ENDPOINT` and `VMBRANCH_TOKEN`, read when called (never at
   * import). Without `VMBRANCH_TOKEN`, the token file of a local server (`$VMBRANCH_DATA_DIR/token`
   * or `~/.vmbranch/token`) is used. `overrides` win over the environment.
   */
  static fromEnv(overrides: Partial<VmbranchClientOptions> = {}, env: NodeJS.ProcessEnv = process.env): VmbranchClient {
    return new VmbranchClient(resolveEnvOptions(overrides, env));
  }

  /** `GET /healthz` (no token sent): `{ status: "ok", version }`. */
  async health(options?: RequestOptions): Promise<Health> {
    const response = await this.transport.call({ method: "GET", path: "/healthz", auth: false, schema: HealthSchema, options });
    return response.data;
  }

  /**
   * Send any request with the client's auth, retries and errors, validating the answer with
   * `schema`. For endpoints newer than this SDK; `path` must be encoded already.
   */
  request<S extends z.ZodType>(method: HttpMethod, path: string, options: RawRequestOptions<S>): Promise<ApiResponse<z.infer<S>>> {
    const { json, schema, ...rest } = options;
    if (!path.startsWith("/")) throw new TypeError(`Request path must start with '/': '${path}'`);
    return this.transport.call({ method, path, json, schema, options: rest });
  }

  /** Release the connections of the agent this client created. Later calls fail with `ConnectionError`. */
  close(): Promise<void> {
    return this.transport.close();
  }
}
