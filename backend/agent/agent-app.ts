/**
 * The HTTP face of `vmbranch agent`: its host's VmDriver and StorageDriver, and the VMs,
 * snapshots and leftovers it holds, as calls a control plane makes with the agent's token and
 * its term's epoch. Owns authentication, the epoch fence, which methods may be called, and how
 * their results cross the wire (handles and snapshots as descriptors, leftovers as ids).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { StorageDriver } from "../host/storage-driver";
import type { FilesystemKind } from "../host/storage-driver";
import type { GuestNetwork, SnapshotMachine, VmDriver, VmHandle } from "../host/vm-driver";
import { EpochGuard } from "./epoch-guard";
import { filePathProblem } from "./file-paths";
import { HeldObjects } from "./held-objects";
import { AGENT_PATH, AgentErrors, EPOCH_HEADER, decode, encode, errorToWire, type AgentCall, type AgentTarget } from "./wire";

/** What a control plane reads from an agent once, when it connects. */
export interface AgentDescription {
  /** The vmbranch version of the agent. */
  version: string;
  /** The host the agent runs: the name the control plane records its instances and volumes under. */
  hostName: string;
  network: GuestNetwork;
  machine: SnapshotMachine;
  /** Machine types this host's QEMU offers (a snapshot loads only where its type is offered). */
  availableMachines: string[];
  defaultFilesystem: string;
  filesystems: FilesystemKind[];
  /** Why guests cannot have outbound network access on this host, or null. */
  outboundNetworkUnavailable: string | null;
  /** The newest control-plane epoch the agent has obeyed. */
  epoch: number;
}

/** A VM handle as the wire carries it. */
export interface HandleDescriptor {
  uuid: string;
  pid: number;
  vmgenid: string;
  machineType: string;
  guestAgent: boolean;
}

/** What the agent app is built from. */
export interface AgentAppOptions {
  token: string;
  /** The file keeping the newest epoch obeyed. */
  epochFile: string;
  vm: VmDriver;
  storage: StorageDriver;
  accelerator: () => Promise<"kvm" | "tcg">;
  /** Make each directory (private, 0700) or check an existing one: the layout the control plane names. */
  prepareDirs: (dirs: string[]) => void;
  /** The directories prepared so far (also by an earlier start): the only ones the file routes reach. */
  fileDirs: () => readonly string[];
  describe: Omit<AgentDescription, "epoch" | "network" | "machine" | "defaultFilesystem" | "filesystems">;
  tls?: { key: Buffer; cert: Buffer };
  logger: boolean | object;
}

/** How long a long poll (VM events, a snapshot's copy) waits before answering "nothing yet". */
export const LONG_POLL_MS = 20_000;

type Method = (args: unknown[]) => Promise<unknown>;

const VM_METHODS = ["readConsole", "isPortFree", "pickFreePort", "capacity", "memory", "prepareRunDir", "removeRunDir", "runDirNames"] as const;
const STORAGE_METHODS = [
  "createFormatted", "createOverlay", "grow", "flatten", "remove", "exists", "info", "makeImportScratch", "removeImportScratch",
  "importScratchNames", "hostPathProblem", "usage", "listDataFiles", "openPaths",
] as const;
const HANDLE_METHODS = [
  "ready", "powerdown", "kill", "addForward", "removeForward", "thawGuest", "freezeDisks", "flattenDisk", "settleDisks", "resume",
  "discardOverlay", "runState", "diskFiles", "saveAndQuit", "stats",
] as const;

function describeHandle(h: VmHandle): HandleDescriptor {
  return { uuid: h.uuid, pid: h.pid, vmgenid: h.vmgenid, machineType: h.machineType, guestAgent: h.guestAgent };
}

function badCall(message: string): Error {
  return Object.assign(new Error(message), { name: AgentErrors.badCall });
}

/** The call table: target → method → implementation. */
function callTable(o: AgentAppOptions, held: HeldObjects): Record<AgentTarget, Record<string, Method>> {
  const { vm, storage } = o;
  const forward = <T extends object>(obj: T, names: readonly string[]) =>
    Object.fromEntries(names.map((n) => [n, (args: unknown[]) => (obj as Record<string, (...a: unknown[]) => Promise<unknown>>)[n]!(...args)]));
  const uuidOf = (args: unknown[]) => {
    if (typeof args[0] !== "string") throw badCall("the first argument must be a VM's uuid");
    return args[0];
  };
  const onHandle = Object.fromEntries(
    HANDLE_METHODS.map((n) => [n, (args: unknown[]) => (held.vm(uuidOf(args)) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[n]!(...args.slice(1))]),
  );
  return {
    host: {
      accelerator: () => o.accelerator(),
      async prepareDirs([dirs]) {
        if (!Array.isArray(dirs) || !dirs.every((d) => typeof d === "string" && d.startsWith("/"))) throw badCall("prepareDirs takes a list of absolute paths");
        o.prepareDirs(dirs);
      },
    },
    vm: {
      ...forward(vm, VM_METHODS),
      async launch([spec]) {
        const h = await vm.launch(spec as Parameters<VmDriver["launch"]>[0]);
        held.holdVm(h);
        return describeHandle(h);
      },
      async attach([uuid, runDir]) {
        const known = held.heldVm(uuid as string);
        if (known) return describeHandle(known);
        // It ended while its control plane was away: say so once, as a fresh attach would.
        if (known === null) {
          held.forgetVm(uuid as string);
          return null;
        }
        const h = await vm.attach(uuid as string, runDir as string);
        if (!h) return null;
        held.holdVm(h);
        return describeHandle(h);
      },
      async leftovers([runDir, owned]) {
        const list = await vm.leftovers(runDir as string, owned as Set<string>);
        const ids = held.holdVmLeftovers(list);
        return list.map((l, i) => ({ id: ids[i], kind: l.kind, what: l.what, pid: l.pid }));
      },
    },
    storage: {
      ...forward(storage, STORAGE_METHODS),
      async viewLeftovers([dir]) {
        const list = await storage.viewLeftovers(dir as string);
        const ids = held.holdViewLeftovers(list);
        return list.map((l, i) => ({ id: ids[i], dir: l.dir, mounted: l.mounted, daemonPid: l.daemonPid }));
      },
    },
    handle: {
      ...onHandle,
      async snapshot(args) {
        const live = await held.vm(uuidOf(args)).snapshot(...(args.slice(1) as Parameters<VmHandle["snapshot"]>));
        const id = held.holdSnapshot(live);
        return { id, pauseMs: live.pauseMs, diskSwitch: live.diskSwitch, quiesceSkipped: live.quiesceSkipped, frozenMs: live.frozenMs, takenAt: live.takenAt };
      },
      events: (args) => held.events(uuidOf(args), Number(args[1]), Number(args[2] ?? 0), LONG_POLL_MS),
    },
    snapshot: {
      done: ([id]) => held.snapshotDone(id as string, LONG_POLL_MS),
      eta: ([id]) => held.liveSnapshot(id as string).copyEta(),
    },
    "vm-leftover": { remove: ([id]) => held.removeLeftover("vm-leftover", id as string) },
    "view-leftover": { remove: ([id]) => held.removeLeftover("view-leftover", id as string) },
  };
}

/** Build the agent's app (not listening yet). `close()` on it stops watching the VMs, which keep running. */
export function buildAgentApp(o: AgentAppOptions): FastifyInstance {
  const expected = createHash("sha256").update(o.token).digest();
  const epochs = new EpochGuard(o.epochFile);
  const held = new HeldObjects();
  const table = callTable(o, held);
  const app = Fastify({ logger: o.logger, bodyLimit: 8 * 1024 * 1024, ...(o.tls ? { https: o.tls } : {}) });
  // Before the server waits for requests in flight: long polls answer now rather than after LONG_POLL_MS.
  app.addHook("preClose", async () => held.close());

  const fail = (reply: FastifyReply, status: number, name: string, message: string) => reply.code(status).send({ error: { name, message, fields: {} } });
  app.addHook("onRequest", async (req, reply) => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
    if (!m || !timingSafeEqual(createHash("sha256").update(m[1]!).digest(), expected))
      return fail(reply, 401, "Unauthorized", "this agent answers only its control plane: a valid agent token is required");
  });
  /** The epoch check of a command; false when refused (the reply is sent). */
  const admitted = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const raw = req.headers[EPOCH_HEADER];
    const epoch = Number(raw);
    if (typeof raw !== "string" || !Number.isSafeInteger(epoch) || epoch < 1) {
      void fail(reply, 400, AgentErrors.badCall, `a command must carry its control-plane term in the ${EPOCH_HEADER} header`);
      return false;
    }
    const refusal = epochs.admit(epoch);
    if (refusal) void fail(reply, 409, AgentErrors.staleEpoch, refusal);
    return refusal === null;
  };

  app.get(`${AGENT_PATH}/host`, async () => ({
    ...o.describe,
    network: o.vm.network,
    machine: o.vm.machine,
    defaultFilesystem: o.storage.defaultFilesystem,
    filesystems: o.storage.filesystems().map((n) => o.storage.filesystem(n)!),
    epoch: epochs.current,
  }) satisfies AgentDescription);

  app.post(`${AGENT_PATH}/call`, async (req, reply) => {
    if (!admitted(req, reply)) return reply;
    const call = req.body as Partial<AgentCall> | undefined;
    const method = call?.target && Object.hasOwn(table, call.target) && typeof call.method === "string" && Object.hasOwn(table[call.target], call.method)
      ? table[call.target][call.method]!
      : null;
    if (!method || !Array.isArray(call?.args)) return fail(reply, 400, AgentErrors.badCall, `no such call: ${String(call?.target)}.${String(call?.method)}`);
    try {
      const value = await method(decode(call.args) as unknown[]);
      return { value: encode(value) };
    } catch (err) {
      const wire = errorToWire(err);
      const status = wire.name === AgentErrors.unknownObject ? 404 : wire.name === AgentErrors.badCall ? 400 : 500;
      return reply.code(status).send({ error: wire });
    }
  });

  /** The path a file route may use, from its query; null when refused (the reply is sent). */
  const filePath = (req: FastifyRequest, reply: FastifyReply): string | null => {
    const path = (req.query as Record<string, string | undefined>).path;
    const problem = !path?.startsWith("/") ? "file needs an absolute path" : filePathProblem(path, o.fileDirs());
    if (problem) void fail(reply, 400, AgentErrors.badCall, problem);
    return problem ? null : path!;
  };
  // A file sent to another host streams out, and one from another host streams in (its path in the query).
  app.get(`${AGENT_PATH}/file`, async (req, reply) => {
    if (!admitted(req, reply)) return reply;
    const path = filePath(req, reply);
    if (path === null) return reply;
    try {
      // With its length: a receiver whose stream ends short knows it, whatever ended it.
      const file = await o.storage.openRead(path);
      return reply.type("application/octet-stream").header("content-length", file.bytes).send(file.stream);
    } catch (err) {
      return reply.code(500).send({ error: errorToWire(err) });
    }
  });
  app.addContentTypeParser("application/octet-stream", (_req, payload, done) => done(null, payload));
  app.put(`${AGENT_PATH}/file`, async (req, reply) => {
    if (!admitted(req, reply)) return reply;
    const path = filePath(req, reply);
    if (path === null) return reply;
    const bytes = Number(req.headers["content-length"]);
    if (!Number.isSafeInteger(bytes) || bytes < 0) return fail(reply, 400, AgentErrors.badCall, "a file is sent with its length (content-length)");
    try {
      const written = await o.storage.writeFile(path, req.body as NodeJS.ReadableStream as never, bytes);
      // Its sender is gone (killed after its last byte): nothing would record or remove the file.
      if (req.raw.socket.destroyed || req.raw.socket.readableEnded) {
        await o.storage.remove(path);
        return reply.code(500).send({ error: errorToWire(new Error(`the sender of ${path} went away before it was written: not kept`)) });
      }
      return { value: written };
    } catch (err) {
      return reply.code(500).send({ error: errorToWire(err) });
    }
  });

  // An import's archive streams through: the body is the tar, the rest is in the query.
  app.addContentTypeParser("application/x-tar", (_req, payload, done) => done(null, payload));
  app.put(`${AGENT_PATH}/extract`, async (req, reply) => {
    if (!admitted(req, reply)) return reply;
    const q = req.query as Record<string, string | undefined>;
    const limits = { maxBytes: Number(q.maxBytes), maxEntries: Number(q.maxEntries), idleTimeoutMs: Number(q.idleTimeoutMs) };
    if (!q.dir || !Object.values(limits).every((n) => Number.isFinite(n) && n > 0)) return fail(reply, 400, AgentErrors.badCall, "extract needs dir, maxBytes, maxEntries and idleTimeoutMs");
    try {
      await o.storage.extractTar(req.body as NodeJS.ReadableStream as never, q.dir, limits);
      return { value: null };
    } catch (err) {
      return reply.code(500).send({ error: errorToWire(err) });
    }
  });
  return app;
}
