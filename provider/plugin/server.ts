/**
 * The resource plugin's gRPC service: Pulumi's `ResourceProvider` protocol (the stubs
 * `@pulumi/pulumi` ships) answered by provider/impl. It speaks the protocol directly rather than
 * through `@pulumi/pulumi/provider`'s `main`, because that adapter drops what this provider
 * exists for: the configuration (`Configure` variables), `customTimeouts` (each request's
 * `timeout`), the engine's random seed (seeded auto-names) and the detailed diff. Owns the
 * translation of each request and response and of errors (a partial create or update keeps its
 * id); what each method does is the impl's, and `Construct` (components) is provider/plugin/construct.ts.
 */
import * as grpc from "@grpc/grpc-js";
import * as anyproto from "google-protobuf/google/protobuf/any_pb";
import * as emptyproto from "google-protobuf/google/protobuf/empty_pb";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import * as statusproto from "@pulumi/pulumi/proto/status_pb";
import { configure as configureConnection, readConfig } from "../impl/connection";
import type { PartialStateError } from "../impl/errors";
import { construct } from "./construct";
import { checkInputs, configReader, detailedDiff, plainJson, timeoutMs, withoutSecrets, withSecretsOf, type PropertyDiffKind } from "./mapping";
import { FUNCTION_IMPLS, RESOURCE_IMPLS, typeOfUrn, type ResourceImpl } from "./resources";
// The package schema as checked in (`npm run schema` regenerates it from the zod schemas; a unit test keeps it current).
import checkedInSchema from "./schema.json";

type Props = Record<string, unknown>;
type Callback<T> = (err: grpc.ServiceError | grpc.StatusObject | Error | null, value?: T | null, trailer?: grpc.Metadata) => void;

const KIND: Record<PropertyDiffKind, provproto.PropertyDiff.Kind> = {
  ADD: provproto.PropertyDiff.Kind.ADD,
  ADD_REPLACE: provproto.PropertyDiff.Kind.ADD_REPLACE,
  DELETE: provproto.PropertyDiff.Kind.DELETE,
  DELETE_REPLACE: provproto.PropertyDiff.Kind.DELETE_REPLACE,
  UPDATE: provproto.PropertyDiff.Kind.UPDATE,
  UPDATE_REPLACE: provproto.PropertyDiff.Kind.UPDATE_REPLACE,
};

/** A request's properties as sent, secrets marked (what outputs are marked from). */
const sent = (s: structproto.Struct | undefined): Props => (s ? (s.toJavaScript() as Props) : {});
/** A request's properties as the impl reads them: secrets unwrapped. */
const props = (s: structproto.Struct | undefined): Props => withoutSecrets(sent(s));
const struct = (value: unknown) => structproto.Struct.fromJavaScript(plainJson((value ?? {}) as Record<string, structproto.JavaScriptValue>));

function implOf(urn: string): ResourceImpl {
  const impl = RESOURCE_IMPLS[typeOfUrn(urn)];
  if (!impl) throw new Error(`vmbranch: unknown resource type '${typeOfUrn(urn)}' (the package has ${Object.keys(RESOURCE_IMPLS).join(", ")})`);
  return impl;
}

/** Run `fn` and answer with its result, or with its error (as Pulumi expects it) when it throws. */
function answer<T>(callback: Callback<T>, fn: () => Promise<T> | T): void {
  Promise.resolve()
    .then(fn)
    .then(
      (value) => callback(null, value),
      (err: unknown) => {
        const e = grpcError(err);
        callback(e, null, e.metadata);
      },
    );
}

/**
 * An error as a gRPC status. One that carries `id` (a resource that exists but did not get
 * ready) is a partial create or update: its id and outputs travel as `ErrorResourceInitFailed`,
 * so the engine keeps the resource and updates it on the next `up`.
 */
export function grpcError(err: unknown): grpc.StatusObject {
  const message = err instanceof Error ? err.message : String(err);
  const metadata = new grpc.Metadata();
  const partial = err as Partial<PartialStateError>;
  if (typeof partial.id === "string" && partial.id !== "") {
    const detail = new provproto.ErrorResourceInitFailed();
    detail.setId(partial.id);
    detail.setProperties(struct(partial.properties));
    detail.setReasonsList(partial.reasons ?? [message]);
    const any = new anyproto.Any();
    any.pack(detail.serializeBinary(), "pulumirpc.ErrorResourceInitFailed");
    const status = new statusproto.Status();
    status.setCode(grpc.status.UNKNOWN);
    status.setMessage(message);
    status.addDetails(any);
    metadata.add("grpc-status-details-bin", Buffer.from(status.serializeBinary()));
  }
  return { code: grpc.status.UNKNOWN, details: message, metadata };
}

/** The service implementation for plugin version `version`; `engineAddr` is the engine's address (Construct registers through it). */
export function providerService(version: string, engineAddr?: string): provrpc.IResourceProviderServer {
  // The connection of this plugin process: the engine starts one process per provider resource,
  // so module state is per provider (two explicit providers, two processes).
  let connection = readConfig({ get: () => undefined });
  const schema = JSON.stringify({ ...checkedInSchema, version });
  const unimplemented = (what: string) => (_call: unknown, callback: Callback<never>) => callback({ code: grpc.status.UNIMPLEMENTED, details: `${what} is not implemented`, metadata: new grpc.Metadata() });
  return {
    handshake: unimplemented("Handshake"),
    parameterize: unimplemented("Parameterize"),
    call: unimplemented("Call"),
    construct: (call, callback) => answer(callback, () => construct(call.request, engineAddr)),
    getMapping: unimplemented("GetMapping"),
    getMappings: unimplemented("GetMappings"),
    list: (call) => call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "List is not implemented" }),
    getPluginInfo: (_call, callback) => answer(callback, () => new plugproto.PluginInfo().setVersion(version)),
    getSchema: (call, callback) =>
      answer(callback, () => {
        if (call.request.getVersion() !== 0) throw new Error(`unsupported schema version ${call.request.getVersion()}`);
        return new provproto.GetSchemaResponse().setSchema(schema);
      }),
    // A debugger attaching tells the plugin the engine's address (it was not started with one).
    attach: (call, callback) =>
      answer(callback, () => {
        engineAddr = call.request.getAddress();
        return new emptyproto.Empty();
      }),
    cancel: (_call, callback) => answer(callback, () => new emptyproto.Empty()),
    // The provider's own inputs (endpoint, token) are taken as given; a change updates the provider, never replaces it.
    checkConfig: (call, callback) => answer(callback, () => new provproto.CheckResponse().setInputs(call.request.getNews())),
    diffConfig: (call, callback) =>
      answer(callback, () => {
        const olds = props(call.request.getOlds());
        const news = props(call.request.getNews());
        const changed = ["endpoint", "token"].filter((k) => JSON.stringify(olds[k] ?? null) !== JSON.stringify(news[k] ?? null));
        const resp = new provproto.DiffResponse();
        resp.setChanges(changed.length > 0 ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE);
        resp.setDiffsList(changed);
        return resp;
      }),
    configure: (call, callback) =>
      answer(callback, () => {
        const reader = configReader(new Map(call.request.getVariablesMap().getEntryList()));
        configureConnection(reader);
        connection = readConfig(reader);
        // Secrets arrive marked (the engine constructs components only on a provider that takes
        // them): the impl reads them unwrapped, and each output is marked where its input was.
        const resp = new provproto.ConfigureResponse();
        resp.setAcceptsecrets(true);
        resp.setAcceptresources(false);
        resp.setSupportspreview(false);
        return resp;
      }),
    check: (call, callback) =>
      answer(callback, async () => {
        const req = call.request;
        const seed = req.getRandomseed_asU8();
        const olds = props(req.getOlds());
        const result = await implOf(req.getUrn()).check(Object.keys(olds).length > 0 ? olds : {}, checkInputs(req.getUrn(), props(req.getNews())), seed.length > 0 ? { randomSeed: seed } : {});
        const resp = new provproto.CheckResponse().setInputs(struct(withSecretsOf(result.inputs as Props, sent(req.getNews()))));
        resp.setFailuresList(result.failures.map((f) => new provproto.CheckFailure().setProperty(f.property).setReason(f.reason)));
        return resp;
      }),
    diff: (call, callback) =>
      answer(callback, async () => {
        const req = call.request;
        const news = props(req.getNews());
        const detail = await implOf(req.getUrn()).diffDetail(req.getId(), props(req.getOlds()), news);
        const resp = new provproto.DiffResponse();
        resp.setChanges(detail.changes ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE);
        resp.setReplacesList(detail.replaces);
        resp.setDeletebeforereplace(detail.deleteBeforeReplace);
        const details = detailedDiff(detail, props(req.getOldInputs()), news);
        resp.setDiffsList(Object.keys(details));
        const map = resp.getDetaileddiffMap();
        for (const [field, kind] of Object.entries(details)) map.set(field, new provproto.PropertyDiff().setKind(KIND[kind]).setInputdiff(true));
        resp.setHasdetaileddiff(true);
        return resp;
      }),
    create: (call, callback) =>
      answer(callback, async () => {
        const req = call.request;
        const result = await implOf(req.getUrn()).create(props(req.getProperties()), { timeoutMs: timeoutMs(req.getTimeout()) });
        return new provproto.CreateResponse().setId(result.id).setProperties(struct(withSecretsOf(result.outs as Props, sent(req.getProperties()))));
      }),
    read: (call, callback) =>
      answer(callback, async () => {
        const req = call.request;
        const stored = props(req.getProperties());
        // An import sends no properties: the impl then reads the server's values as the inputs.
        const result = await implOf(req.getUrn()).read(req.getId(), Object.keys(stored).length > 0 ? stored : undefined);
        const resp = new provproto.ReadResponse();
        if (result.id === undefined) return resp;
        resp.setId(result.id).setProperties(struct(withSecretsOf((result.props ?? {}) as Props, sent(req.getProperties()))));
        if (result.inputs !== undefined) resp.setInputs(struct(withSecretsOf(result.inputs as Props, sent(req.getInputs()))));
        return resp;
      }),
    update: (call, callback) =>
      answer(callback, async () => {
        const req = call.request;
        const result = await implOf(req.getUrn()).update(req.getId(), props(req.getOlds()), props(req.getNews()), { timeoutMs: timeoutMs(req.getTimeout()) });
        return new provproto.UpdateResponse().setProperties(struct(withSecretsOf(result.outs as Props, sent(req.getNews()))));
      }),
    delete: (call, callback) =>
      answer(callback, async () => {
        const req = call.request;
        await implOf(req.getUrn()).remove(req.getId(), props(req.getProperties()), { timeoutMs: timeoutMs(req.getTimeout()) });
        return new emptyproto.Empty();
      }),
    invoke: (call, callback) =>
      answer(callback, async () => {
        const req = call.request;
        const fn = FUNCTION_IMPLS[req.getTok()];
        if (!fn) throw new Error(`vmbranch: unknown function '${req.getTok()}' (the package has ${Object.keys(FUNCTION_IMPLS).join(", ")})`);
        const args = props(req.getArgs());
        const result = await fn({ name: args.name as string | undefined, uuid: args.uuid as string | undefined }, connection);
        return new provproto.InvokeResponse().setReturn(struct(result));
      }),
  };
}

/** Serve the plugin on a free loopback port and print the port, as the engine expects of a plugin; `engineAddr` as for providerService. */
export async function serve(version: string, engineAddr?: string): Promise<grpc.Server> {
  // Pulumi's schemas and states can be large: the engine's own limit.
  const server = new grpc.Server({ "grpc.max_receive_message_length": 400 * 1024 * 1024 });
  server.addService(provrpc.ResourceProviderService, providerService(version, engineAddr));
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  process.stdout.write(`${port}\n`);
  return server;
}
