/**
 * The lineage page's drawing: instances as a tree by branch lineage (each with its state, its
 * source's pause, its age and its volumes beside it), volume templates with their clones, and the
 * volumes attached to no instance. Pure DOM from the API's objects; fetching and signing in are app.ts's.
 */
import type { Instance, Volume } from "../../sdk/schemas";

/** What one drawing shows. */
export interface Snapshot {
  instances: Instance[];
  volumes: Volume[];
  volumeTemplates: Volume[];
  now: number;
}

function el(tag: string, cls: string | null, ...children: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (const c of children) e.append(c);
  return e;
}

/** How long ago, as people say it: `45s`, `3m`, `2h`, `5d`. */
export function age(iso: string, now: number): string {
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`;
}

function stateBadge(state: string): HTMLElement {
  const b = el("span", `state state-${state}`, state);
  b.dataset.testid = "state";
  return b;
}

function instanceNode(i: Instance, now: number): HTMLElement {
  const parts: (Node | string)[] = [el("span", "name", i.name), stateBadge(i.state)];
  if (i.branch) {
    const live = i.branch.from_memory && i.branch.snapshot_uuid !== null && i.branch.source_pause_ms !== null;
    const pause = el("span", "meta", live ? `source paused ${Math.round(i.branch.source_pause_ms! * 10) / 10} ms` : "source not paused");
    pause.dataset.testid = "pause";
    parts.push(pause);
  }
  const a = el("span", "meta", `${age(i.created_at, now)} old`);
  a.dataset.testid = "age";
  parts.push(a);
  if (i.volumes.length > 0) {
    const chips = el("span", "chips", ...i.volumes.map((v) => el("span", "chip", `${v.name} → ${v.at}`)));
    chips.dataset.testid = "volumes";
    parts.push(chips);
  }
  const node = el("div", "node", ...parts);
  node.dataset.testid = "instance";
  node.dataset.name = i.name;
  return node;
}

/** Draw `snap` into the page's three lists. */
export function draw(snap: Snapshot, lists: { lineage: HTMLElement; templates: HTMLElement; volumes: HTMLElement }): void {
  const byUuid = new Map(snap.instances.map((i) => [i.uuid, i]));
  const children = new Map<string, Instance[]>();
  const roots: Instance[] = [];
  const ordered = [...snap.instances].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.name.localeCompare(b.name));
  for (const i of ordered) {
    const parent = i.branch && byUuid.has(i.branch.source.uuid) ? i.branch.source.uuid : null;
    if (parent) children.set(parent, [...(children.get(parent) ?? []), i]);
    else roots.push(i);
  }
  const item = (i: Instance): HTMLElement => {
    const li = el("li", null, instanceNode(i, snap.now));
    const kids = children.get(i.uuid) ?? [];
    if (kids.length > 0) li.append(el("ul", null, ...kids.map(item)));
    return li;
  };
  lists.lineage.replaceChildren(...roots.map(item));

  const clonesOf = (t: Volume) => snap.volumes.filter((v) => v.template?.uuid === t.uuid || v.clone?.source.uuid === t.uuid);
  const volumeNode = (v: Volume, what: string): HTMLElement => {
    const n = el("div", "node", el("span", "name", v.name), stateBadge(v.state), el("span", "meta", `${what}${v.size_mb !== null ? `, ${v.size_mb} MiB` : ""}, ${age(v.created_at, snap.now)} old`));
    n.dataset.testid = what === "template" ? "volume-template" : "volume";
    n.dataset.name = v.name;
    return n;
  };
  const shown = new Set<string>();
  lists.templates.replaceChildren(
    ...snap.volumeTemplates.map((t) => {
      const clones = clonesOf(t);
      for (const c of clones) shown.add(c.uuid);
      const li = el("li", null, volumeNode(t, "template"));
      if (clones.length > 0) li.append(el("ul", null, ...clones.map((c) => el("li", null, volumeNode(c, "clone")))));
      return li;
    }),
  );
  lists.volumes.replaceChildren(
    // Attached volumes are drawn beside their instances already.
    ...snap.volumes.filter((v) => !shown.has(v.uuid) && v.attached_to.length === 0).map((v) => el("li", null, volumeNode(v, "volume"))),
  );
}
