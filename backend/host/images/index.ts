/**
 * Public surface of the image layer (backend/host/images): the image store, the `base` builder,
 * the guest configuration renderer and the host–guest protocol. Other layers import from here.
 */
export { BASE_IMAGE_NAME, BASE_MODULE_GROUPS, BUILDER_VERSION, DEFAULT_KERNEL_CMDLINE } from "./base-image-spec";
export { buildBaseImage, downloadCacheDir, type BuildImageOptions, type BuildImageResult } from "./base-image-builder";
export { GuestConfigError, renderGuestConfig, shellQuote } from "./guest-config";
export * from "./guest-protocol";
export { STOP_GRACE_SECONDS } from "./guest-files";
export { MANIFEST_FILE, type ImageManifest } from "./image-manifest";
export { IMAGE_DIR_ENV, ImageNotFoundError, imageSummary, listImages, openImage, resolveImageDir, type ImageFiles } from "./image-store";
