/**
 * The lineage page (`/ui`) in Debian's headless Chromium, driven by playwright-core, on the shared
 * lineage: sign-in with the token (refused when wrong, never in a URL), the tree of a source with
 * two branches and a branch of a branch with states, source pauses, ages and volumes beside them,
 * templates with their clones, and live updates as instances come and go. Screenshots of the page
 * and of `vmbranch tree` in a terminal are kept in `.cache/artifacts/`.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import type { Lineage } from "./support/lineage";
import { personEnv, ROOT, sh } from "./support/shell";

/** Where the screenshots go (git-ignored; docs/images has copies). */
export const ARTIFACTS = join(ROOT, ".cache", "artifacts");
const CHROMIUM = process.env.VMBRANCH_CHROMIUM ?? "/usr/bin/chromium";

type Drawn = { name: string; state: string; pause: string | null; volumes: string | null; branches: Drawn[] };

/** The drawn tree, read back from the page's DOM (the function runs in the page: plain JavaScript). */
function drawnTree(page: Page): Promise<Drawn[]> {
  return page.evaluate(`(() => {
    const walk = (ul) => ul === null ? [] : Array.from(ul.children).map((li) => {
      const node = li.querySelector(":scope > [data-testid=instance]");
      const text = (id) => node.querySelector("[data-testid=" + id + "]")?.textContent ?? null;
      return { name: node.dataset.name, state: text("state"), pause: text("pause"), volumes: text("volumes"), branches: walk(li.querySelector(":scope > ul")) };
    });
    return walk(document.querySelector("[data-testid=lineage]"));
  })()`);
}

/** The `data-name` of every element `selector` finds. */
async function names(page: Page, selector: string): Promise<(string | null)[]> {
  return Promise.all((await page.locator(selector).all()).map((l) => l.getAttribute("data-name")));
}

/** The lineage page tests, on the shared lineage. */
export function lineagePageTests(lineage: () => Lineage): void {
  describe("the lineage page (/ui) in headless Chromium", () => {
    let browser: Browser;
    let page: Page;
    const requested: string[] = [];

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
      page = await browser.newPage({ viewport: { width: 1200, height: 640 } });
      page.on("request", (r) => requested.push(r.url()));
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
    });

    it("asks for the token and refuses a wrong one, showing nothing of the server", async () => {
      const res = await page.goto(`${lineage().backend.url}/ui`);
      expect(res!.status()).toBe(200);
      expect(res!.headers()["content-security-policy"]).toContain("default-src 'none'");
      await page.getByTestId("sign-in").waitFor();
      expect(await page.getByTestId("lineage").isVisible()).toBe(false);
      await page.fill("#token", "not-the-token-at-all");
      await page.click("button[type=submit]");
      await page.getByText("The server refused this token.").waitFor();
      expect(await page.locator("[data-testid=instance]").count()).toBe(0);
    });

    it("draws a source with two branches and a branch of a branch, with volumes and templates beside them", async () => {
      const { backend, pauses } = lineage();
      await page.fill("#token", backend.token);
      await page.click("button[type=submit]");
      await page.locator("[data-testid=instance][data-name=db-a-1]").waitFor();
      expect(await page.getByTestId("sign-in").isVisible()).toBe(false);
      const paused = (name: string) => `source paused ${Math.round(pauses[name]! * 10) / 10} ms`;
      expect(await drawnTree(page)).toEqual([
        {
          name: "db", state: "running", pause: null, volumes: "db-data → /data",
          branches: [
            { name: "db-a", state: "running", pause: paused("db-a"), volumes: expect.stringMatching(/ → \/data$/), branches: [
              { name: "db-a-1", state: "running", pause: paused("db-a-1"), volumes: expect.stringMatching(/ → \/data$/), branches: [] },
            ] },
            { name: "db-b", state: "standby", pause: paused("db-b"), volumes: expect.stringMatching(/ → \/data$/), branches: [] },
          ],
        },
      ]);
      for (const a of await page.getByTestId("age").allTextContents()) expect(a).toMatch(/^\d+[smhd] old$/);
      expect(await names(page, "[data-testid=templates] > li > [data-testid=volume-template]")).toEqual(["seed-tpl"]);
      expect(await names(page, "[data-testid=templates] > li > ul [data-testid=volume]")).toEqual(["seed-copy"]);
      expect(await names(page, "[data-testid=volumes] [data-testid=volume]")).toEqual(["seed"]);
      // The token went only into headers: no URL the page asked for carries it.
      expect(page.url()).toBe(`${backend.url}/ui`);
      expect(requested.filter((u) => u.includes(backend.token))).toEqual([]);
      await page.screenshot({ path: join(ARTIFACTS, "lineage-page.png"), fullPage: true });
    });

    it("follows the server live: a new branch appears under its source, and goes when deleted", async () => {
      const { backend } = lineage();
      await backend.client.instances.create({ name: "ui-live", branch_from: { name: "db-a-1" } });
      const live = page.locator("[data-testid=instance][data-name=ui-live]");
      await live.waitFor({ timeout: 120_000 });
      // A locator, not a string predicate: the page's CSP (script-src 'self') refuses the eval a string needs.
      await page.locator("[data-name=ui-live] [data-testid=state]", { hasText: /^running$/ }).waitFor({ timeout: 120_000 });
      const tree = await drawnTree(page);
      expect(tree[0]!.branches[0]!.branches[0]!.branches.map((b) => b.name)).toEqual(["ui-live"]);
      await backend.client.instances.delete("ui-live");
      await live.waitFor({ state: "detached", timeout: 30_000 });
    });

    it("keeps a screenshot of `vmbranch tree` in a terminal", async () => {
      const { backend } = lineage();
      const tree = await sh("vmbranch tree", personEnv(backend.url, backend.token));
      expect(tree.status).toBe(0);
      const term = await browser.newPage({ viewport: { width: 560, height: 180 } });
      const escaped = `$ vmbranch tree\n${tree.stdout}`.replace(/&/g, "&amp;").replace(/</g, "&lt;");
      await term.setContent(`<body style="margin:0;background:#1e1e1e"><pre id="t" style="margin:0;padding:14px 16px;color:#e6e6e6;font:15px/1.45 'DejaVu Sans Mono',monospace">${escaped}</pre></body>`);
      await term.locator("#t").screenshot({ path: join(ARTIFACTS, "cli-tree.png") });
      await term.close();
    });
  });
}
