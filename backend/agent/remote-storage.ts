/**
 * `StorageDriver` of a host run by an agent: file work goes to the agent (agent-client.ts); the
 * filesystem registry is the one the agent described when the control plane connected, and the
 * path rule `underAllowedRoot` is pure, so both answer here without a call.
 */
import type { Readable } from "node:stream";
import type { ClaimedDir, DataFile, DiskFileInfo, FilesystemKind, ImportLimits, SentFile, StorageDriver, ViewLeftover } from "../host/storage-driver";
import { underAllowedRoot } from "../host/storage/host-paths";
import type { AgentDescription } from "./agent-app";
import type { AgentClient } from "./agent-client";

/** The storage of an agent's host. */
export class RemoteStorage implements StorageDriver {
  readonly defaultFilesystem: string;
  private readonly kinds: Map<string, FilesystemKind>;

  constructor(
    private readonly agent: AgentClient,
    host: AgentDescription,
  ) {
    this.defaultFilesystem = host.defaultFilesystem;
    this.kinds = new Map(host.filesystems.map((f) => [f.name, f]));
  }

  filesystem(name: string): FilesystemKind | null {
    return this.kinds.get(name) ?? null;
  }

  filesystems(): string[] {
    return [...this.kinds.keys()];
  }

  createFormatted(path: string, sizeMb: number, fs: FilesystemKind, fromDir?: string): Promise<void> {
    return this.agent.call("storage", "createFormatted", [path, sizeMb, fs, fromDir]);
  }

  createOverlay(path: string, backing: string): Promise<void> {
    return this.agent.call("storage", "createOverlay", [path, backing]);
  }

  grow(path: string, sizeMb: number): Promise<void> {
    return this.agent.call("storage", "grow", [path, sizeMb]);
  }

  flatten(path: string): Promise<void> {
    return this.agent.call("storage", "flatten", [path]);
  }

  remove(path: string): Promise<void> {
    return this.agent.call("storage", "remove", [path]);
  }

  exists(path: string): Promise<boolean> {
    return this.agent.call("storage", "exists", [path]);
  }

  info(path: string): Promise<DiskFileInfo> {
    return this.agent.call("storage", "info", [path]);
  }

  makeImportScratch(parent: string, prefix: string): Promise<string> {
    return this.agent.call("storage", "makeImportScratch", [parent, prefix]);
  }

  removeImportScratch(dir: string): Promise<void> {
    return this.agent.call("storage", "removeImportScratch", [dir]);
  }

  importScratchNames(parent: string, prefix: string): Promise<string[]> {
    return this.agent.call("storage", "importScratchNames", [parent, prefix]);
  }

  openRead(path: string): Promise<SentFile> {
    return this.agent.openRead(path);
  }

  writeFile(path: string, input: Readable, bytes: number): Promise<number> {
    return this.agent.writeFile(path, input, bytes);
  }

  extractTar(input: Readable, dir: string, limits: ImportLimits): Promise<void> {
    return this.agent.extract(input, dir, limits);
  }

  hostPathProblem(path: string, allowedRoots: readonly string[], claimed: readonly ClaimedDir[]): Promise<string | null> {
    return this.agent.call("storage", "hostPathProblem", [path, allowedRoots, claimed]);
  }

  underAllowedRoot(path: string, roots: readonly string[]): boolean {
    return underAllowedRoot(path, roots);
  }

  usage(dir: string): Promise<{ files: number; bytes: number }> {
    return this.agent.call("storage", "usage", [dir]);
  }

  listDataFiles(dir: string, suffix: string): Promise<DataFile[]> {
    return this.agent.call("storage", "listDataFiles", [dir, suffix]);
  }

  openPaths(): Promise<Set<string>> {
    return this.agent.call("storage", "openPaths", []);
  }

  async viewLeftovers(disksDir: string): Promise<ViewLeftover[]> {
    const list = await this.agent.call<{ id: string; dir: string; mounted: boolean; daemonPid: number | null }[]>("storage", "viewLeftovers", [disksDir]);
    return list.map(({ id, ...l }) => ({ ...l, remove: () => this.agent.call<void>("view-leftover", "remove", [id]) }));
  }
}
