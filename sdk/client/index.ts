/** The typed HTTP client of vmbranch: `VmbranchClient`, its resource groups, errors, retry policy and helpers. */
export { VmbranchClient, Images, type Health, type RawRequestOptions } from "./client";
export { Instances, logText, type InstanceCreateParams, type InstanceBranchParams, type InstanceLogParams, type InstanceLogText, type InstanceUpdateOp } from "./instances";
export { InstanceTemplates, type InstanceTemplateCreateParams, type TemplateUpdateOp } from "./instance-templates";
export { Checkpoints, type CheckpointCreateParams } from "./checkpoints";
export { Volumes, type VolumeCreateParams, type VolumeCloneResult, type TarBody, type VolumeUpdateOp } from "./volumes";
export { VolumeTemplates, type VolumeTemplateCreateParams } from "./volume-templates";
export { Hosts } from "./hosts";
export {
  SdkError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  UnprocessableEntityError,
  RateLimitError,
  InternalServerError,
  ConnectionError,
  TimeoutError,
  RequestAbortedError,
  SdkResponseValidationError,
  UnexpectedStateError,
  SDK_ERROR_BRAND,
  BRANCH_PENDING_SNAPSHOT_CODE,
  isSdkError,
  isBranchPendingSnapshot,
  errorClassForStatus,
  type SdkErrorInit,
} from "./errors";
export {
  DEFAULT_RETRY_POLICY,
  decideRetry,
  backoffDelay,
  parseRetryAfter,
  isRetryableStatus,
  type RetryPolicy,
  type RetryInput,
  type RetryDecision,
  type AttemptFailure,
} from "./retry-policy";
export {
  DEFAULT_ENDPOINT,
  DEFAULT_TIMEOUT_MS,
  SDK_VERSION,
  resolveEnvOptions,
  type VmbranchClientOptions,
  type RequestOptions,
  type ResponseMeta,
  type RetryEvent,
  type FetchLike,
  type FetchInitLike,
  type FetchResponseLike,
} from "./options";
export { DEFAULT_WAIT_TIMEOUT_MS, type WaitOptions } from "./waiters";
export type { PatchOpInput, BulkResult } from "./calls";
export { paginate, collect, listPath, pagesOf, PAGE_SIZE, type Page, type PageFetcher, type ListParams } from "./pagination";
export type { ApiResponse, HttpMethod, RawBody } from "./transport";
