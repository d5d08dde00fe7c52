// The component's entry: Streamlit arguments in, user events out; toolbar, legend, menu, keys, sync.

import "./style.css";
import type { EdgeSingular, NodeSingular } from "cytoscape";
import { Canvas } from "./canvas";
import { HEADER } from "./hierarchy";
import { onRender, setFrameHeight, setValue } from "./protocol";
import { DIFF_COLOURS } from "./style";
import { Args, CAPTURED, Doc, INPUT, OUTPUT } from "./types";

const $ = (id: string) => document.getElementById(id)!;
const canvas = new Canvas($("cy"), $("minimap") as HTMLCanvasElement);
const cy = canvas.cy;
let args: Args | null = null;
let token = "";
let focusNonce = -1;
let ready = false;
let channel: BroadcastChannel | null = null;
let remote = false;
let timings: Record<string, number> = {};

function send(value: Record<string, unknown>): void {
  setValue({ ...value, ts: Date.now() });
}

function kindOf(i: number): string {
  const op = canvas.graph.op[i];
  return op === INPUT ? "input" : op === OUTPUT ? "output" : op === CAPTURED ? "captured" : "node";
}

// ------------------------------------------------------------------ chrome

function chrome(): void {
  if (!canvas.doc || !canvas.view) return;
  const doc = canvas.doc;
  const crumbs = $("crumbs");
  crumbs.innerHTML = "";
  canvas.path().forEach((gid, k, all) => {
    if (k) crumbs.insertAdjacentHTML("beforeend", '<span class="sep">▸</span>');
    const el = document.createElement(k === all.length - 1 ? "span" : "a");
    el.textContent = doc.graphs[gid].title;
    if (k === all.length - 1) el.className = "here";
    else el.addEventListener("click", () => canvas.enter(gid));
    crumbs.appendChild(el);
  });
  const g = canvas.graph;
  const real = g.op.filter((op) => op >= 0).length;
  const drawn = canvas.view.placed.filter((p) => p.kind !== "box").length;
  $("count").textContent = `${real.toLocaleString()} nodes · ${g.groups.length.toLocaleString()} groups · ${drawn.toLocaleString()} drawn`;
  $("shapes").classList.toggle("on", canvas.showShapes);
  legend();
}

function legend(): void {
  const doc = canvas.doc!;
  const el = $("legend");
  const parts: string[] = [];
  if (canvas.overlay) {
    let max = 0;
    Object.values(canvas.overlay.values).forEach((v) => (max = Math.max(max, v)));
    parts.push(`<span><b>${canvas.overlay.label}</b> 0<span class="ramp"></span>${max.toPrecision(3)}</span>`);
    parts.push('<span><span class="chip" style="background:#e0e0e0"></span>no value</span>');
  } else if (canvas.diff) {
    for (const [kind, colour] of Object.entries(DIFF_COLOURS)) {
      const n = canvas.diff[kind as keyof typeof DIFF_COLOURS].length;
      parts.push(`<span><span class="chip" style="background:${colour}"></span>${kind} ${n}</span>`);
    }
  } else {
    const families = new Set<string>();
    canvas.graph.op.forEach((op) => op >= 0 && families.add(doc.families[op]));
    for (const f of Object.keys(doc.colours)) {
      if (families.has(f)) parts.push(`<span><span class="chip" style="background:${doc.colours[f]}"></span>${f}</span>`);
    }
  }
  parts.push("<span>⊕n folded weights/constants</span><span>⤵ double-click: open body</span><span>▸ click: open group</span>");
  el.innerHTML = parts.join("");
}

function busy(on: boolean, text = "Drawing…"): void {
  $("busy").textContent = text;
  $("busy").style.display = on ? "block" : "none";
}

// ------------------------------------------------------------------ persistence and sync

function storageKey(): string {
  return `modelps-canvas:${args?.view_key ?? ""}`;
}

function persist(): void {
  if (!canvas.doc || !args) return;
  canvas.saveCamera();
  const open: Record<string, string[]> = {};
  canvas.open.forEach((set, gid) => {
    const g = canvas.doc!.graphs[gid];
    if (g) open[gid] = [...set].map((k) => canvas.labelPath(g, k));
  });
  const cameras = Object.fromEntries(canvas.cameras);
  try {
    sessionStorage.setItem(storageKey(), JSON.stringify({ gid: canvas.gid, open, cameras, shapes: canvas.showShapes }));
  } catch {
    /* storage full or disabled: the view is simply not remembered */
  }
}

function restore(): void {
  let saved: { gid: string; open: Record<string, string[]>; cameras: Record<string, { zoom: number; pan: { x: number; y: number } }>; shapes: boolean } | null = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(storageKey()) ?? "null");
  } catch {
    saved = null;
  }
  if (!saved || !canvas.doc) return;
  for (const [gid, labels] of Object.entries(saved.open)) {
    const g = canvas.doc.graphs[gid];
    if (!g) continue;
    const want = new Set(labels);
    const set = new Set<number>();
    g.groups.forEach((_, k) => want.has(canvas.labelPath(g, k)) && set.add(k));
    canvas.open.set(gid, set);
  }
  for (const [gid, cam] of Object.entries(saved.cameras)) if (canvas.doc.graphs[gid]) canvas.cameras.set(gid, cam);
  if (canvas.doc.graphs[saved.gid]) canvas.gid = saved.gid;
  canvas.showShapes = saved.shapes;
}

let persistTimer = 0;
function changed(): void {
  window.clearTimeout(persistTimer);
  persistTimer = window.setTimeout(() => {
    persist();
    broadcast();
  }, 80);
}

function centreNode(): { name: string; rx: number; ry: number } | null {
  const w = cy.width() / 2;
  const h = cy.height() / 2;
  let best: { name: string; rx: number; ry: number } | null = null;
  let bestD = Infinity;
  cy.nodes(".leaf, .io").forEach((n) => {
    const p = n.renderedPosition();
    const d = (p.x - w) ** 2 + (p.y - h) ** 2;
    if (d < bestD) {
      bestD = d;
      best = { name: canvas.graph.names[Number(n.id().slice(1))], rx: p.x, ry: p.y };
    }
  });
  return best;
}

function broadcast(): void {
  if (!channel || remote || !canvas.doc) return;
  const g = canvas.graph;
  channel.postMessage({
    pane: args?.pane,
    gid: canvas.gid,
    open: [...canvas.openSet()].map((k) => canvas.labelPath(g, k)),
    zoom: cy.zoom(),
    pan: cy.pan(),
    ref: centreNode(),
  });
}

function onRemote(msg: { pane: string; gid: string; open: string[]; zoom: number; pan: { x: number; y: number }; ref: { name: string; rx: number; ry: number } | null }): void {
  if (!canvas.doc || msg.pane === args?.pane) return;
  remote = true;
  try {
    if (msg.gid !== canvas.gid && canvas.doc.graphs[msg.gid]) canvas.enter(msg.gid);
    const g = canvas.graph;
    const want = new Set(msg.open);
    const next = new Set<number>();
    g.groups.forEach((_, k) => want.has(canvas.labelPath(g, k)) && next.add(k));
    const now = canvas.openSet();
    if (next.size !== now.size || [...next].some((k) => !now.has(k))) {
      canvas.open.set(canvas.gid, next);
      canvas.draw("keep");
    }
    const i = msg.ref ? canvas.nodeIndex(msg.ref.name) : -1;
    const ele = i >= 0 ? cy.getElementById(`n${i}`) : null;
    if (ele && ele.nonempty() && msg.ref) {
      const p = ele.position();
      cy.viewport({ zoom: msg.zoom, pan: { x: msg.ref.rx - p.x * msg.zoom, y: msg.ref.ry - p.y * msg.zoom } });
    } else cy.viewport({ zoom: msg.zoom, pan: msg.pan });
  } finally {
    window.setTimeout(() => (remote = false), 120);
  }
}

// ------------------------------------------------------------------ events

function select(i: number): void {
  const name = canvas.graph.names[i];
  canvas.selected = { graph: canvas.gid, node: name };
  cy.nodes(".sel").removeClass("sel");
  cy.getElementById(`n${i}`).addClass("sel");
  send({ type: "select", graph: canvas.gid, node: name, kind: kindOf(i) });
}

cy.on("tap", "node", (event) => {
  hideMenu();
  const ele = event.target;
  const id: string = ele.id();
  const index = Number(id.slice(1));
  if (id[0] === "g") {
    if (ele.hasClass("group")) canvas.toggle(index);
    else if (event.position.y < ele.position().y - ele.height() / 2 + HEADER) canvas.toggle(index);
    return;
  }
  select(index);
});

cy.on("dbltap", "node.sub", (event) => {
  const links = canvas.graph.sub[event.target.id().slice(1)];
  if (links?.length) canvas.enter(links[0][1]);
});

cy.on("tap", "edge", (event) => {
  hideMenu();
  const tensor: string = event.target.data("tensor");
  const shift = (event.originalEvent as MouseEvent | undefined)?.shiftKey;
  canvas.tensors = shift ? [...canvas.tensors.filter((t) => t !== tensor), tensor].slice(-2) : [tensor];
  cy.edges(".picked").removeClass("picked");
  cy.edges().filter((e) => canvas.tensors.includes(e.data("tensor"))).addClass("picked");
  send({ type: "tensors", graph: canvas.gid, tensors: canvas.tensors });
});

cy.on("tap", (event) => {
  if (event.target === cy) hideMenu();
});

cy.on("viewport", changed);

cy.on("mouseover", "node, edge", (event) => {
  const ele = event.target;
  const g = canvas.graph;
  const doc = canvas.doc!;
  let text = "";
  if (ele.isEdge()) {
    const d = ele.data();
    const rows = canvas.view!.edges.find((e) => e.id === d.id)?.edges ?? [];
    text = rows.slice(0, 6).map((j) => `${g.tensor[j]}: ${doc.dtypes[g.dtype[j]]} ${doc.shapes[g.shape[j]]}`).join("<br>");
    if (rows.length > 6) text += `<br>… ${rows.length - 6} more`;
  } else if (ele.id()[0] === "n") {
    const i = Number(ele.id().slice(1));
    const op = g.op[i];
    text = `<b>${op >= 0 ? doc.ops[op] : kindOf(i)}</b> ${g.names[i]}`;
    if (g.folded[i]) text += `<br>${g.folded[i]} folded weight/constant input(s)`;
    const value = canvas.overlay?.values[g.names[i]];
    if (value !== undefined) text += `<br>${canvas.overlay!.label}: ${value.toPrecision(4)}`;
  } else {
    const grp = g.groups[Number(ele.id().slice(1))];
    text = `<b>${grp.label}</b> · ${grp.size} nodes${grp.reps > 1 ? ` · one of ${grp.reps} alike` : ""}`;
  }
  const tip = $("tip");
  tip.innerHTML = text;
  tip.style.display = "block";
  const p = event.renderedPosition ?? ele.renderedPosition();
  tip.style.left = `${Math.min(p.x + 14, cy.width() - 260)}px`;
  tip.style.top = `${p.y + 48}px`;
});
cy.on("mouseout", "node, edge", () => ($("tip").style.display = "none"));

// ------------------------------------------------------------------ context menu

function hideMenu(): void {
  $("menu").style.display = "none";
}

cy.on("cxttap", "node, edge", (event) => {
  const ele = event.target;
  const menu = $("menu");
  menu.innerHTML = "";
  const item = (label: string, run: () => void) => {
    const el = document.createElement("div");
    el.textContent = label;
    el.addEventListener("click", () => {
      hideMenu();
      run();
    });
    menu.appendChild(el);
  };
  const title = (text: string) => {
    const el = document.createElement("div");
    el.className = "title";
    el.textContent = text;
    menu.appendChild(el);
  };
  const g = canvas.graph;
  if (ele.isEdge()) {
    const tensor: string = ele.data("tensor");
    title(tensor);
    item("Add as a model output", () => send({ type: "action", action: "add_output", graph: canvas.gid, tensor }));
    item("Pick for extract (with another tensor)", () => {
      canvas.tensors = [...canvas.tensors.filter((t) => t !== tensor), tensor].slice(-2);
      cy.edges().filter((e) => canvas.tensors.includes(e.data("tensor"))).addClass("picked");
      send({ type: "tensors", graph: canvas.gid, tensors: canvas.tensors });
    });
  } else if (ele.id()[0] === "g") {
    const k = Number(ele.id().slice(1));
    title(g.groups[k].label);
    item(ele.hasClass("group") ? "Open group" : "Close group", () => canvas.toggle(k));
  } else {
    const i = Number(ele.id().slice(1));
    const node = g.names[i];
    select(i);
    title(node);
    if (g.op[i] >= 0) {
      item("Remove node", () => send({ type: "action", action: "remove_node", graph: canvas.gid, node }));
      item("Add its output as a model output", () => send({ type: "action", action: "add_output", graph: canvas.gid, node }));
      item("Insert a node after…", () => send({ type: "action", action: "insert_node", graph: canvas.gid, node }));
      item("Set an attribute…", () => send({ type: "action", action: "set_attribute", graph: canvas.gid, node }));
      item("Replace its op…", () => send({ type: "action", action: "replace_op", graph: canvas.gid, node }));
      for (const [label, gid] of g.sub[String(i)] ?? []) item(`Open ${label}`, () => canvas.enter(gid));
    } else if (g.op[i] === INPUT) {
      item("Set the input shape…", () => send({ type: "action", action: "set_input_shape", graph: canvas.gid, node }));
    }
  }
  const p = event.renderedPosition;
  menu.style.left = `${Math.min(p.x, cy.width() - 200)}px`;
  menu.style.top = `${Math.min(p.y + 36, cy.height() - 120)}px`;
  menu.style.display = "block";
});

// ------------------------------------------------------------------ toolbar and keys

$("fit").addEventListener("click", () => canvas.fit());
$("expand").addEventListener("click", () => canvas.openLevel());
$("collapse").addEventListener("click", () => canvas.closeAll());
$("shapes").addEventListener("click", () => {
  canvas.showShapes = !canvas.showShapes;
  cy.edges().toggleClass("labelled", canvas.showShapes);
  chrome();
  changed();
});

document.addEventListener("keydown", (event) => {
  if ((event.target as HTMLElement).tagName === "INPUT") return;
  const centre = { x: cy.width() / 2, y: cy.height() / 2 };
  const step = 90;
  const keys: Record<string, () => void> = {
    ArrowLeft: () => cy.panBy({ x: step, y: 0 }),
    ArrowRight: () => cy.panBy({ x: -step, y: 0 }),
    ArrowUp: () => cy.panBy({ x: 0, y: step }),
    ArrowDown: () => cy.panBy({ x: 0, y: -step }),
    "+": () => cy.zoom({ level: cy.zoom() * 1.25, renderedPosition: centre }),
    "=": () => cy.zoom({ level: cy.zoom() * 1.25, renderedPosition: centre }),
    "-": () => cy.zoom({ level: cy.zoom() / 1.25, renderedPosition: centre }),
    "0": () => canvas.fit(),
    f: () => canvas.fit(),
    s: () => $("shapes").click(),
    Escape: () => {
      hideMenu();
      const parent = canvas.graph.parent;
      if (parent) canvas.enter(parent);
    },
    Enter: () => {
      const sel = canvas.selected;
      if (!sel || sel.graph !== canvas.gid) return;
      const links = canvas.graph.sub[String(canvas.nodeIndex(sel.node))];
      if (links?.length) canvas.enter(links[0][1]);
    },
  };
  const run = keys[event.key];
  if (run) {
    run();
    event.preventDefault();
  }
});

let lastHeight = 0;
new ResizeObserver(() => {
  cy.resize();
  const h = $("cy").clientHeight;
  if (lastHeight < 50 && h >= 50 && canvas.doc && !canvas.cameras.has(canvas.gid)) canvas.fit(true);
  lastHeight = h;
}).observe($("cy"));

canvas.onChange = () => {
  chrome();
  changed();
};

// ------------------------------------------------------------------ Streamlit

async function load(url: string): Promise<Doc> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load the graph (${response.status})`);
  return (await response.json()) as Doc;
}

function anchor(): string {
  const sel = canvas.selected;
  if (sel && sel.graph === canvas.gid) {
    const i = canvas.nodeIndex(sel.node);
    if (i >= 0) return `n${i}`;
  }
  return "keep";
}

onRender(async (raw) => {
  const a = raw as unknown as Args;
  const before = args;
  args = a;
  document.body.style.height = `${a.height}px`;
  setFrameHeight(a.height);
  if (a.sync && !channel) {
    channel = new BroadcastChannel(`modelps-sync-${a.sync}`);
    channel.onmessage = (event) => onRemote(event.data);
  }
  const overlayChanged = JSON.stringify(before?.overlay ?? null) !== JSON.stringify(a.overlay ?? null) || JSON.stringify(before?.diff ?? null) !== JSON.stringify(a.diff ?? null);
  canvas.overlay = a.overlay;
  canvas.diff = a.diff;
  canvas.tensors = a.tensors ?? [];
  const selection = JSON.stringify(a.selected ?? null) !== JSON.stringify(canvas.selected ?? null);
  canvas.selected = a.selected;
  if (a.token !== token) {
    token = a.token;
    ready = false;
    busy(true, canvas.doc ? "Updating…" : "Loading the graph…");
    let doc: Doc;
    const t0 = performance.now();
    try {
      doc = await load(a.doc_url);
    } catch (error) {
      busy(true, String(error));
      return;
    }
    if (token !== a.token) return;
    const first = !canvas.doc;
    const keep = first ? null : anchor();
    const t1 = performance.now();
    canvas.setDoc(doc);
    if (first) restore();
    canvas.draw(keep);
    timings = { fetch_ms: t1 - t0, draw_ms: performance.now() - t1, layout_ms: canvas.layoutMs };
    busy(false);
  } else if (overlayChanged) {
    canvas.draw("keep");
  } else if (selection) {
    cy.nodes(".sel").removeClass("sel");
    const sel = canvas.selected;
    if (sel && sel.graph === canvas.gid) cy.getElementById(`n${canvas.nodeIndex(sel.node)}`).addClass("sel");
  }
  if (a.focus && a.focus.nonce !== focusNonce) {
    focusNonce = a.focus.nonce;
    canvas.hits = new Set([a.focus.node]);
    canvas.reveal(a.focus.graph, a.focus.node);
  }
  ready = true;
});

// For tests and benchmarks: the state of the view and where a node is drawn (CSS pixels in this frame).
(window as unknown as Record<string, unknown>).modelpsCanvas = {
  ready: () => ready && !!canvas.doc && cy.nodes().length > 0,
  state: () => ({
    graph: canvas.gid,
    zoom: cy.zoom(),
    pan: cy.pan(),
    open: [...canvas.openSet()].map((k) => canvas.labelPath(canvas.graph, k)),
    selected: canvas.selected,
    tensors: canvas.tensors,
    drawn: cy.nodes().length,
    token,
    timings,
  }),
  position: (name: string) => {
    let ele = cy.nodes().filter((n) => n.id()[0] === "n" && canvas.graph.names[Number(n.id().slice(1))] === name);
    if (ele.empty()) ele = cy.nodes().filter((n) => n.id()[0] === "g" && canvas.labelPath(canvas.graph, Number(n.id().slice(1))) === name);
    if (ele.empty()) return null;
    const p = (ele.first() as NodeSingular).renderedPosition();
    const box = $("cy").getBoundingClientRect();
    return { x: box.left + p.x, y: box.top + p.y };
  },
  edgePosition: (tensor: string) => {
    const e = cy.edges().filter((x) => x.data("tensor") === tensor).first();
    if (e.empty()) return null;
    const p = (e as EdgeSingular).renderedMidpoint();
    const box = $("cy").getBoundingClientRect();
    return { x: box.left + p.x, y: box.top + p.y };
  },
  enter: (gid: string) => canvas.enter(gid),
  reveal: (name: string, gid?: string) => canvas.reveal(gid ?? canvas.gid, name, false),
  fit: () => canvas.fit(),
};
