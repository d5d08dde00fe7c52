// The component's entry: Streamlit arguments in, user events out; toolbar, legend, menu, keys, sync.

import "./style.css";
import type { EdgeSingular, NodeSingular } from "cytoscape";
import { Canvas } from "./canvas";
import { busy, chrome } from "./chrome";
import { hideMenu, installMenu } from "./menu";
import { HEADER } from "./hierarchy";
import { onRender, setFrameHeight, setValue } from "./protocol";
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

installMenu(canvas, send, select, kindOf);


// ------------------------------------------------------------------ toolbar and keys

$("fit").addEventListener("click", () => canvas.fit());
$("expand").addEventListener("click", () => canvas.openLevel());
$("collapse").addEventListener("click", () => canvas.closeAll());
$("shapes").addEventListener("click", () => {
  canvas.showShapes = !canvas.showShapes;
  cy.edges().toggleClass("labelled", canvas.showShapes);
  chrome(canvas);
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
  chrome(canvas);
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
