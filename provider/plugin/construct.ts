/**
 * The plugin's `Construct`: how a program in any language (Pulumi YAML, Python, Go, the Node.js
 * SDK) gets a component of the package. The engine sends the component's inputs and resource
 * options with the address of its resource monitor; the component is declared in this process on
 * `@pulumi/pulumi`'s runtime pointed at that monitor (provider/plugin/pulumi-runtime.ts), so its
 * children are registered with the engine as any program's resources are, and the answer is the
 * component's URN and its outputs with their dependencies. Mirrors `@pulumi/pulumi/provider`'s own
 * `construct`; owns the translation of the request's options and of the response.
 */
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import type * as provproto from "@pulumi/pulumi/proto/provider_pb";
import { ConstructResponse } from "@pulumi/pulumi/proto/provider_pb";
import { DependencyProviderResource, DependencyResource, rootStackResource, type Alias, type ComponentResourceOptions, type ProviderResource } from "@pulumi/pulumi/resource";
import { serializeResourceProperties } from "@pulumi/pulumi/runtime/rpc";
import { constructComponent, requireComponent } from "./components";
import { deserializeInputs, valueOf, withRuntime } from "./pulumi-runtime";

/** The component's resource options as the request carries them. */
export function constructOptions(req: provproto.ConstructRequest): ComponentResourceOptions {
  const providers: Record<string, ProviderResource> = {};
  for (const [pkg, ref] of req.getProvidersMap().entries()) providers[pkg] = new DependencyProviderResource(ref);
  const aliases: (string | Alias)[] = req.getAliasesList().map((a) => {
    if (a.hasUrn()) return a.getUrn();
    const spec = a.getSpec();
    const alias: Alias = {};
    if (!spec) return alias;
    if (spec.getName() !== "") alias.name = spec.getName();
    if (spec.getProject() !== "") alias.project = spec.getProject();
    if (spec.getStack() !== "") alias.stack = spec.getStack();
    if (spec.hasParenturn()) alias.parent = spec.getParenturn();
    else if (spec.getNoparent()) alias.parent = rootStackResource;
    return alias;
  });
  const timeouts = req.getCustomtimeouts();
  return {
    parent: req.getParent() !== "" ? new DependencyResource(req.getParent()) : undefined,
    providers,
    dependsOn: req.getDependenciesList().map((urn) => new DependencyResource(urn)),
    protect: req.getProtect(),
    aliases,
    ignoreChanges: req.getIgnorechangesList(),
    replaceOnChanges: req.getReplaceonchangesList(),
    customTimeouts: timeouts ? { create: timeouts.getCreate() || undefined, update: timeouts.getUpdate() || undefined, delete: timeouts.getDelete() || undefined } : undefined,
    retainOnDelete: req.getRetainondelete(),
    deletedWith: req.getDeletedwith() !== "" ? new DependencyResource(req.getDeletedwith()) : undefined,
  };
}

// The Constructs running, each with how to fail it. A registration the engine refuses (a child
// whose check fails, say) rejects promises of the runtime that nothing awaits: as in Pulumi's own
// provider host, such an error fails the Constructs in flight instead of ending the process, which
// serves the engine's other requests too.
const inFlight = new Set<(err: unknown) => void>();
let guarding = false;

function failInFlight(err: unknown): void {
  if (inFlight.size === 0) process.stderr.write(`pulumi-resource-vmbranch: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  for (const fail of inFlight) fail(err);
}

/** Run `fn` as one Construct in flight: an error nothing awaited fails it. */
function guarded<T>(fn: () => Promise<T>): Promise<T> {
  if (!guarding) {
    guarding = true;
    process.on("unhandledRejection", failInFlight);
    process.on("uncaughtException", failInFlight);
  }
  return new Promise<T>((resolve, reject) => {
    inFlight.add(reject);
    fn().then(resolve, reject).finally(() => inFlight.delete(reject));
  });
}

/** Answer one Construct request; `engineAddr` is the engine's address the plugin was started with. */
export async function construct(req: provproto.ConstructRequest, engineAddr: string | undefined): Promise<ConstructResponse> {
  requireComponent(req.getType());
  if (!engineAddr) throw new Error("vmbranch: Construct needs the engine's address, which the engine passes when it starts the plugin");
  const target = {
    project: req.getProject(),
    stack: req.getStack(),
    organization: req.getOrganization(),
    parallel: req.getParallel(),
    monitorAddr: req.getMonitorendpoint(),
    engineAddr,
    dryRun: req.getDryrun(),
    config: Object.fromEntries(req.getConfigMap().entries()),
    configSecretKeys: req.getConfigsecretkeysList(),
  };
  return guarded(() => withRuntime(target, async () => {
    const inputs = await deserializeInputs(req.getInputs(), req.getInputdependenciesMap());
    const { resource, state } = await constructComponent(req.getType(), req.getName(), inputs, constructOptions(req));
    const resp = new ConstructResponse();
    resp.setUrn((await valueOf(resource.urn)) ?? "");
    const [serialized, deps] = await serializeResourceProperties(`construct(${req.getType()}, ${req.getName()})`, state);
    const depsMap = resp.getStatedependenciesMap();
    for (const [key, resources] of deps) {
      const urns = await Promise.all(Array.from(resources).map(async (r) => (await valueOf(r.urn)) ?? ""));
      depsMap.set(key, new ConstructResponse.PropertyDependencies().setUrnsList(urns));
    }
    resp.setState(structproto.Struct.fromJavaScript(serialized));
    return resp;
  }));
}
