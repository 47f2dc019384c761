// An example deployed onto a cluster (issue 15: the provider and SDK work unchanged against one):
// branch-database as a project from the user install, `pulumi up` with the real CLI against a
// control plane driving three agents, each a host in namespaces of its own (test/helpers/
// cluster.ts). The database and its volume land on one host and its branches beside it, where its
// memory and disk layers are; everything works as on one machine (the branches carry the data and
// the in-memory counter, then diverge); a second preview reports no changes; destroy leaves every
// host empty and the doctor clean.
import type { TestBackend } from "../helpers/backend";
import { startCluster, type TestCluster } from "../helpers/cluster";
import { doctorReport } from "../helpers/serve-checks";
import { releaseUserInstall, userInstall, type UserInstall } from "../helpers/user-install";
import { runJson } from "../projects/support/project-cli";
import { deployable, destroyAndCheckEmpty, get } from "./support/deploy";

jest.setTimeout(600_000);

let install: UserInstall;
let cluster: TestCluster;
let b: TestBackend;
beforeAll(async () => {
  install = await userInstall();
  // What the example publishes on 127.0.0.1 must be reachable here: the hosts share this network.
  cluster = await startCluster(["box-1", "box-2", "box-3"], { network: "shared" });
  b = cluster.b;
}, 600_000);
afterAll(async () => {
  await cluster?.stop();
  releaseUserInstall();
});

test("branch-database deploys onto a cluster: the database on one host, its branches beside it, all working as on one machine", async () => {
  const project = await deployable(install, b, "branch-database", { branches: "2" });
  const up = await runJson(project, ["up", "--yes"]);
  expect(up.changes).toEqual({ create: 5 });
  const out = await project.outputs();
  const branches = out.branches as { name: string; url: string; branchedFrom: string; branchPhase: string }[];
  const db = await b.client.instances.get(out.db as string);
  expect(["box-1", "box-2", "box-3"]).toContain(db.host);
  expect((await b.client.volumes.get(out.volume as string)).host).toBe(db.host);
  for (const br of branches) {
    expect(br).toMatchObject({ branchedFrom: out.db, branchPhase: "Succeeded" });
    expect((await b.client.instances.get(br.name)).host).toBe(db.host);
    expect((await get(`${br.url}?get=greeting`)).trim()).toBe("hello");
    expect(Number((await get(`${br.url}?ticks`)).trim())).toBeGreaterThan(0);
  }
  // Every VM runs in the database's host, none elsewhere.
  expect(cluster.host(db.host!).vmPids()).toHaveLength(3);
  await get(`${branches[0]!.url}?set=color=red`);
  await get(`${out.dbUrl as string}?set=color=green`);
  expect((await get(`${branches[0]!.url}?get=color`)).trim()).toBe("red");
  expect((await get(`${out.dbUrl as string}?get=color`)).trim()).toBe("green");
  await project.pulumi(["preview", "--expect-no-changes"]);
  await destroyAndCheckEmpty(b, project);
  for (const h of cluster.hosts) expect(h.vmPids()).toEqual([]);
  expect((await doctorReport(b)).findings).toEqual([]);
});
