/**
 * What a branch or a template instance takes from its source under KubeVirt's clone rules
 * (docs/api.md, "Branching"): tags and annotations pass the filters, then the request's
 * own are added; MAC and SMBIOS serial are kept for a warm start (the running guest already has
 * them) and replaced on a cold one, by the requested values or fresh ones.
 */
import { applyFilters, type InstanceCreateRequest } from "vmbranch/sdk";
import { ApiError } from "./errors";
import { newMac, newSmbiosSerial } from "./identity";

/** The one network interface every instance has. */
export const INTERFACES = ["eth0"] as const;

/** Tags and annotations of a clone: the source's after the filters, plus the request's own. */
export function cloneLabels(
  source: { tags: string[]; annotations: Record<string, string> },
  req: Pick<InstanceCreateRequest, "tags" | "annotations" | "tag_filters" | "annotation_filters">,
): { tags: string[]; annotations: Record<string, string> } {
  const tags = applyFilters(source.tags, req.tag_filters);
  const annotations: Record<string, string> = {};
  for (const k of applyFilters(Object.keys(source.annotations), req.annotation_filters)) annotations[k] = source.annotations[k]!;
  const merged = [...new Set([...tags, ...(req.tags ?? [])])];
  if (merged.length > 16) throw new ApiError("VALIDATION_FAILED", "'tags': at most 16 tags (after copying the source's)", "tags");
  return { tags: merged, annotations: { ...annotations, ...(req.annotations ?? {}) } };
}

/** MAC and SMBIOS serial of a clone. Unknown interface names are a 400. */
export function cloneIdentity(
  source: { mac: string; smbiosSerial: string },
  req: Pick<InstanceCreateRequest, "new_mac_addresses" | "new_smbios_serial">,
  warm: boolean,
): { mac: string; smbiosSerial: string } {
  for (const iface of Object.keys(req.new_mac_addresses ?? {}))
    if (!(INTERFACES as readonly string[]).includes(iface))
      throw new ApiError("VALIDATION_FAILED", `Unknown interface '${iface}' in new_mac_addresses; instances have: ${INTERFACES.join(", ")}`, "new_mac_addresses");
  const mac = req.new_mac_addresses?.eth0?.toLowerCase() ?? (warm ? source.mac : newMac());
  const smbiosSerial = req.new_smbios_serial ?? (warm ? source.smbiosSerial : newSmbiosSerial());
  return { mac, smbiosSerial };
}
