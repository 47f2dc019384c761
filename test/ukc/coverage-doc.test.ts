// docs/api.md's compatibility table lists every method of the official SDK's InstancesApi and
// VolumesApi exactly once, each marked supported: the table and the client cannot drift apart.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InstancesApi, VolumesApi } from "@unikraft/cloud/api/platform";
import { methodsOf } from "./support";

const doc = readFileSync(join(__dirname, "../../docs/api.md"), "utf8");
const table = doc.slice(doc.indexOf("## Unikraft Cloud compatibility"));
const rows = [...table.matchAll(/^\| `(?:(\w+)\.)?(\w+)` \| `([A-Z]+ [^`]+)` \| (\w+) \|/gm)];

test("the compatibility table covers every SDK method once, each supported", () => {
  let client = "";
  const listed = rows.map((m) => {
    client = m[1] ?? client;
    return `${client}.${m[2]}`;
  });
  const expected = [...methodsOf(InstancesApi).map((m) => `InstancesApi.${m}`), ...methodsOf(VolumesApi).map((m) => `VolumesApi.${m}`)];
  expect([...listed].sort()).toEqual(expected.sort());
  expect(rows.filter((m) => m[4] !== "yes").map((m) => m[2])).toEqual([]);
});
