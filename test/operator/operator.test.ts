// The operator layer: what a person running `vmbranch serve` sees — metrics, the CLI and the
// lineage page — against one real server holding a real lineage (a source, two branches and a
// branch of a branch, a volume, its template and a clone), booted once for all of them.
import { makeLineage, type Lineage } from "./support/lineage";
import { cliTests } from "./cli";
import { lineagePageTests } from "./lineage-page";
import { metricsTests } from "./metrics";

jest.setTimeout(300_000);

let lineage: Lineage | undefined;
beforeAll(async () => {
  lineage = await makeLineage();
}, 900_000);
afterAll(async () => {
  await lineage?.backend.stop();
}, 120_000);
const shared = (): Lineage => {
  if (!lineage) throw new Error("the lineage was not made (see beforeAll)");
  return lineage;
};

metricsTests(shared);
cliTests(shared);
lineagePageTests(shared);
