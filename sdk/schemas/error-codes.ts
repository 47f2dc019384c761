/**
 * The error codes of the API (docs/errors.md): each code a client can see in an envelope's
 * `errors[].code`, with its HTTP status and what it means. The backend's registry
 * (backend/core/errors.ts) is this list; the client matches codes against it. Envelopes still
 * carry `code` as any string, so a client keeps working against a newer server's new codes.
 */

/** Every error code of the API, its HTTP status and what it means (docs/errors.md lists the same). */
export const API_ERRORS = {
  VALIDATION_FAILED: { status: 400, describe: "A field is missing, malformed, or not allowed with another field." },
  INVALID_JSON: { status: 400, describe: "The body is not valid JSON." },
  BRANCH_MANAGED_VOLUME: { status: 400, describe: "The branch or checkpoint source has a managed (host_path) volume, which cannot be branched." },
  TEMPLATE_MANAGED_VOLUME: { status: 400, describe: "The instance has a managed (host_path) volume, which cannot become a volume template; the instance is not converted." },
  VOLUME_SHRINK: { status: 400, describe: "A volume's size can only grow." },
  HOST_PATH_REJECTED: { status: 400, describe: "host_path is not an existing directory under a root the operator allowed, or it overlaps another managed volume's directory or vmbranch's own." },
  UNAUTHORIZED: { status: 401, describe: "Missing or wrong bearer token (every request but `GET /healthz`, `GET /openapi.json` and the lineage page's static files, whether or not the endpoint exists)." },
  HOST_NOT_ALLOWED: { status: 403, describe: "The service listens on loopback and the request was addressed to another host name (DNS rebinding)." },
  ROUTE_NOT_FOUND: { status: 404, describe: "No such endpoint." },
  INSTANCE_NOT_FOUND: { status: 404, describe: "No instance with that UUID or name." },
  TEMPLATE_NOT_FOUND: { status: 404, describe: "No instance template with that UUID or name." },
  VOLUME_NOT_FOUND: { status: 404, describe: "No volume with that UUID or name." },
  VOLUME_TEMPLATE_NOT_FOUND: { status: 404, describe: "No volume template with that UUID or name." },
  CHECKPOINT_NOT_FOUND: { status: 404, describe: "No checkpoint with that UUID or name." },
  HOST_NOT_FOUND: { status: 404, describe: "No host with that name (`GET /v1/hosts/{name}`)." },
  IMAGE_NOT_FOUND: { status: 404, describe: "No image with that name in the image store (build it with `vmbranch image build`)." },
  METHOD_NOT_ALLOWED: { status: 405, describe: "The endpoint exists but not with this method." },
  WAIT_TIMEOUT: { status: 408, describe: "The instance did not reach the awaited state in time." },
  IMPORT_STALLED: { status: 408, describe: "An import body sent nothing for longer than the idle timeout; the volume is unchanged." },
  NAME_TAKEN: { status: 409, describe: "Another resource of that kind already has that name." },
  DELETE_LOCKED: { status: 409, describe: "The resource has a delete lock." },
  INVALID_STATE: { status: 409, describe: "The operation is not possible in the resource's current state." },
  BRANCH_PENDING_SNAPSHOT: { status: 409, describe: "The branch source already has a snapshot in progress; retry once it completes." },
  BRANCH_INVALID_STATE: { status: 409, describe: "The branch source is in a state branching does not support." },
  CHECKPOINT_NOT_READY: { status: 409, describe: "The checkpoint's capture is not complete (state `starting`) or failed; instances load only from a checkpoint in state `checkpoint`." },
  LOCK_TIMEOUT: { status: 409, describe: "Another operation on the same instance or volume did not finish within the wait deadline; retry once it is done." },
  VOLUME_IN_USE: { status: 409, describe: "The volume's mounts forbid this (read-write mounts are exclusive; mounted volumes cannot be deleted)." },
  VOLUME_IS_TEMPLATE: { status: 409, describe: "Volume templates are immutable: clone them to use their data." },
  VOLUME_HAS_CLONES: { status: 409, describe: "The volume or template still has clones that depend on it." },
  VOLUME_NOT_EMPTY: { status: 409, describe: "Import needs an empty volume that is not attached." },
  PORT_UNAVAILABLE: { status: 409, describe: "The requested host port is taken, or the host's `--published-ports` range has no free port left." },
  HOST_PATH_UNSAFE: { status: 409, describe: "A managed volume's host directory is no longer safe to share (a symbolic link in its path, gone, or not accessible to VMs); the start is refused." },
  SNAPSHOT_INCOMPATIBLE: { status: 409, describe: "The memory snapshot was taken with a QEMU machine type or a newer QEMU this host does not offer; nothing was started (the message names both)." },
  HOST_OFFLINE: { status: 409, describe: "The host the request names is offline (its heartbeats stopped), or the instance, volume, template or checkpoint the request acts on or needs lives on an offline host; nothing was changed, and nothing can be until the host heartbeats again." },
  PLACEMENT_CONFLICT: { status: 409, describe: "The request would put an instance away from what it needs: volumes it mounts on different hosts, or on another host than the one requested (a volume, or one its source shares read-only, is not copied)." },
  HOST_FEATURE_UNAVAILABLE: { status: 409, describe: "The request needs a host feature this host lacks (the message names it)." },
  PAYLOAD_TOO_LARGE: { status: 413, describe: "The request body is too large." },
  IMPORT_TOO_LARGE: { status: 413, describe: "The archive holds more data than the volume's size or more entries than it can store; the volume is unchanged." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, describe: "The body has a content type this endpoint does not take." },
  INTERNAL: { status: 500, describe: "An unexpected failure inside vmbranch; the message says what failed." },
  HOST_FAILURE: { status: 500, describe: "The host could not do it (QEMU, qemu-img or mke2fs failed); the message says which step and tool failed, the service log has the tool's output." },
  STORE_UNAVAILABLE: { status: 503, describe: "The PostgreSQL database holding the state could not be reached, or ended its session during the request (a restart); retry once it is back. The service log says why." },
  INSUFFICIENT_MEMORY: { status: 507, describe: "The host has too little free memory for the VM; the message says how much is needed and free." },
  INSUFFICIENT_STORAGE: { status: 507, describe: "The RAM directory (tmpfs) has too little free space for a memory snapshot (the message says how much is needed and free), or the data directory's filesystem is full." },
} as const;

/** An error code of the API. */
export type ApiErrorCode = keyof typeof API_ERRORS;
