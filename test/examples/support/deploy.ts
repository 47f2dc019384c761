/**
 * An example deployed as a user deploys it: its directory copied outside the repository onto the
 * packages installed from `npm pack` (test/helpers/user-install.ts), a stack of its own with the
 * connection as stack config (token secret), and destroyed with nothing left on the server.
 */
import path from "node:path";
import type { TestBackend } from "../../helpers/backend";
import { userProject, type UserInstall, type UserProject } from "../../helpers/user-install";
import { runJson } from "../../projects/support/project-cli";

const EXAMPLES = path.join(__dirname, "..", "..", "..", "examples");

/** The example's directory as a project of its own, on stack `test`, connected to `backend`. */
export async function deployable(install: UserInstall, backend: TestBackend, example: string, config: Record<string, string> = {}): Promise<UserProject> {
  const project = userProject(install, example, { copyFrom: path.join(EXAMPLES, example) });
  await project.pulumi(["stack", "init", "test"]);
  await project.pulumi(["config", "set", "vmbranch:endpoint", backend.url]);
  await project.pulumi(["config", "set", "--secret", "vmbranch:token", backend.token]);
  for (const [k, v] of Object.entries(config)) await project.pulumi(["config", "set", k, v]);
  return project;
}

/** `pulumi destroy`, then assert `backend` holds no instance, volume or volume template. */
export async function destroyAndCheckEmpty(backend: TestBackend, project: UserProject): Promise<void> {
  await runJson(project, ["destroy", "--yes", "--skip-preview"]);
  expect(await backend.client.instances.list()).toEqual([]);
  expect(await backend.client.volumes.list()).toEqual([]);
  expect(await backend.client.volumes.templates.list()).toEqual([]);
}

/** The body of a GET of `url`. */
export const get = async (url: string): Promise<string> => (await fetch(url)).text();
