/**
 * The lineage page (`/ui`): signs in with the server's token — typed into a form, kept in this
 * tab's sessionStorage, sent only as an Authorization header, never put in a URL — then polls the
 * API every two seconds and redraws the lineage (lineage-view.ts). A 401 signs out.
 */
import type { Instance, Volume } from "../../sdk/schemas";
import { draw } from "./lineage-view";

const KEY = "vmbranch-token";
const POLL_MS = 2000;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

class Unauthorized extends Error {}

async function list<T>(path: string, kind: "instances" | "volumes", token: string): Promise<T[]> {
  const res = await fetch(path, { headers: { authorization: `Bearer ${token}` }, cache: "no-store" });
  if (res.status === 401) throw new Unauthorized();
  const body = await res.json();
  if (!res.ok) throw new Error(body?.message ?? `${res.status} on ${path}`);
  return (body.data?.[kind] ?? []) as T[];
}

let timer: number | undefined;

function showSignIn(message = ""): void {
  if (timer !== undefined) window.clearTimeout(timer);
  timer = undefined;
  sessionStorage.removeItem(KEY);
  $("view").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message;
  $("status").textContent = "";
  $<HTMLInputElement>("token").focus();
}

async function refresh(): Promise<void> {
  const token = sessionStorage.getItem(KEY);
  if (!token) return showSignIn();
  try {
    const [instances, volumes, volumeTemplates] = await Promise.all([
      list<Instance>("/v1/instances", "instances", token),
      list<Volume>("/v1/volumes", "volumes", token),
      list<Volume>("/v1/volumes/templates", "volumes", token),
    ]);
    $("sign-in").hidden = true;
    $("view").hidden = false;
    $("sign-out").hidden = false;
    draw({ instances, volumes, volumeTemplates, now: Date.now() }, { lineage: $("lineage"), templates: $("templates"), volumes: $("volumes") });
    $("status").textContent = `${instances.length} instances · updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    if (err instanceof Unauthorized) return showSignIn("The server refused this token.");
    $("status").textContent = `cannot refresh: ${(err as Error).message}`;
  }
  timer = window.setTimeout(() => void refresh(), POLL_MS);
}

$("sign-in").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>("token");
  sessionStorage.setItem(KEY, input.value.trim());
  input.value = "";
  void refresh();
});
$("sign-out").addEventListener("click", () => showSignIn());
void refresh();
