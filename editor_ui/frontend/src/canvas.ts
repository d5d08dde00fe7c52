// The drawn graph: one Cytoscape instance showing one graph of the document at a time.
//
// Keeps, per graph, which groups are open and the camera, so that an edit, an undo, another
// user's change or a trip into a subgraph and back leaves the view where the user had it.

import cytoscape, { Core, ElementDefinition } from "cytoscape";
import { Hierarchy, View } from "./hierarchy";
import { Minimap } from "./minimap";
import { CAPTURED_COLOUR, DIFF_COLOURS, heat, IO_COLOUR, REPEAT_COLOURS, STYLE } from "./style";
import { CAPTURED, Diff, Doc, GraphDoc, INPUT, OUTPUT, Overlay } from "./types";

export interface Camera {
  zoom: number;
  pan: { x: number; y: number };
}

const READABLE_ZOOM = 0.75; // labels of 11 px stay legible
const AUTO_OPEN_LIMIT = 60; // open levels of groups while the view stays under this many members
const short = (name: string, limit = 22) => {
  const tail = name.split("/").filter(Boolean).slice(-2).join("/") || name;
  return tail.length <= limit ? tail : "…" + tail.slice(tail.length - limit + 1);
};

export class Canvas {
  readonly cy: Core;
  readonly minimap: Minimap;
  doc: Doc | null = null;
  gid = "main";
  open = new Map<string, Set<number>>();
  cameras = new Map<string, Camera>();
  selected: { graph: string; node: string } | null = null;
  tensors: string[] = [];
  showShapes = false;
  overlay: Overlay | null = null;
  diff: Diff | null = null;
  hits = new Set<string>();
  view: View | null = null;
  layoutMs = 0;
  hierarchy: Hierarchy | null = null;
  private hierarchies = new Map<string, Hierarchy>();
  onChange: () => void = () => {};

  constructor(container: HTMLElement, minimap: HTMLCanvasElement) {
    this.cy = cytoscape({
      container,
      style: STYLE,
      minZoom: 0.02,
      maxZoom: 3,
      wheelSensitivity: 0.35,
      boxSelectionEnabled: false,
      autoungrabify: true,
      pixelRatio: 1,
    });
    this.minimap = new Minimap(minimap, this.cy);
  }

  get graph(): GraphDoc {
    return this.doc!.graphs[this.gid];
  }

  /** The chain of graph ids from the main graph down to ``gid``. */
  path(gid = this.gid): string[] {
    const chain: string[] = [];
    for (let g: string | null = gid; g && this.doc?.graphs[g]; g = this.doc.graphs[g].parent) chain.unshift(g);
    return chain;
  }

  openSet(gid = this.gid): Set<number> {
    let s = this.open.get(gid);
    if (!s) {
      s = this.autoOpen(gid);
      this.open.set(gid, s);
    }
    return s;
  }

  private autoOpen(gid: string): Set<number> {
    const h = this.hierarchyOf(gid);
    const open = new Set<number>();
    let level = h.kids[0].filter((v) => v < 0).map((v) => -v - 1);
    let count = h.kids[0].length;
    while (level.length) {
      const more = level.reduce((s, k) => s + h.kids[k + 1].length - 1, 0);
      if (count + more > AUTO_OPEN_LIMIT) break;
      count += more;
      level.forEach((k) => open.add(k));
      level = level.flatMap((k) => h.kids[k + 1].filter((v) => v < 0).map((v) => -v - 1));
    }
    return open;
  }

  hierarchyOf(gid: string): Hierarchy {
    let h = this.hierarchies.get(gid);
    if (!h) {
      h = new Hierarchy(this.doc!.graphs[gid]);
      this.hierarchies.set(gid, h);
    }
    return h;
  }

  /** Take a new document (after an edit): keep graph, open groups and camera where they still apply. */
  setDoc(doc: Doc): void {
    const old = this.doc;
    this.doc = doc;
    this.hierarchies.clear();
    if (!doc.graphs[this.gid]) this.gid = doc.root;
    if (old) {
      for (const [gid, set] of this.open) {
        const before = old.graphs[gid];
        const after = doc.graphs[gid];
        if (!before || !after) {
          this.open.delete(gid);
          continue;
        }
        const labels = new Set([...set].map((k) => this.labelPath(before, k)));
        const next = new Set<number>();
        after.groups.forEach((_, k) => labels.has(this.labelPath(after, k)) && next.add(k));
        this.open.set(gid, next);
      }
    }
  }

  labelPath(g: GraphDoc, k: number): string {
    const parts: string[] = [];
    for (let p = k; p >= 0; p = g.groups[p].parent) parts.unshift(g.groups[p].label);
    return parts.join("/");
  }

  nodeIndex(name: string, gid = this.gid): number {
    const g = this.doc!.graphs[gid];
    let fallback = -1;
    for (let i = 0; i < g.names.length; i++) {
      if (g.names[i] === name) {
        if (g.op[i] >= 0) return i;
        if (fallback < 0) fallback = i;
      }
    }
    return fallback;
  }

  /** Redraw the current graph; the element ``anchor`` (if drawn before and after) stays put on screen. */
  draw(anchor: string | null = null): void {
    if (!this.doc) return;
    const cy = this.cy;
    const before = anchor && cy.getElementById(anchor).nonempty() ? cy.getElementById(anchor).renderedPosition() : null;
    const hadElements = cy.elements().nonempty();
    const camera = { zoom: cy.zoom(), pan: { ...cy.pan() } };
    const t0 = performance.now();
    this.hierarchy = this.hierarchyOf(this.gid);
    this.view = this.hierarchy.layout(this.openSet());
    this.layoutMs = performance.now() - t0;
    const { elements, colours } = this.elements(this.view);
    cy.batch(() => {
      cy.elements().remove();
      cy.add(elements);
    });
    this.minimap.setView(this.view, colours);
    const saved = this.cameras.get(this.gid);
    if (before && anchor && cy.getElementById(anchor).nonempty()) {
      const after = cy.getElementById(anchor).renderedPosition();
      cy.viewport({ zoom: camera.zoom, pan: { x: camera.pan.x + before.x - after.x, y: camera.pan.y + before.y - after.y } });
    } else if (anchor && hadElements) {
      cy.viewport(camera);
    } else if (saved) {
      cy.viewport(saved);
    } else {
      this.fit(true);
    }
    this.onChange();
  }

  /** Fit the whole graph; the first view of a tall graph instead starts at its top at a readable zoom. */
  fit(initial = false): void {
    const cy = this.cy;
    cy.fit(undefined, 24);
    if (cy.zoom() > 1.2) cy.zoom({ level: 1.2, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
    if (initial && cy.zoom() < READABLE_ZOOM && this.view) {
      // a tall graph: start at its top, at a readable zoom, centred on the first member drawn
      const zoom = READABLE_ZOOM;
      const box = cy.elements().boundingBox();
      let first = this.view.placed[0];
      for (const p of this.view.placed) if (p.kind !== "box" && (first.kind === "box" || p.y < first.y)) first = p;
      const x = box.w * zoom < cy.width() ? (box.x1 + box.x2) / 2 : first.x;
      cy.viewport({ zoom, pan: { x: cy.width() / 2 - x * zoom, y: 24 - box.y1 * zoom } });
    }
  }

  private heatValues(g: GraphDoc): { node: Map<number, number>; group: Map<number, number>; max: number } | null {
    if (!this.overlay) return null;
    const node = new Map<number, number>();
    const group = new Map<number, number>();
    const sum = this.overlay.agg !== "max";
    g.names.forEach((name, i) => {
      const v = this.overlay!.values[name];
      if (v === undefined || g.op[i] < 0) return;
      node.set(i, v);
      for (let k = g.grp[i]; k >= 0; k = g.groups[k].parent) group.set(k, sum ? (group.get(k) ?? 0) + v : Math.max(group.get(k) ?? -Infinity, v));
    });
    let max = 0;
    node.forEach((v) => (max = Math.max(max, v)));
    return { node, group, max };
  }

  private diffOf(g: GraphDoc): { node: Map<number, string>; group: Map<number, string> } | null {
    if (!this.diff) return null;
    const kinds = new Map<string, string>();
    (["removed", "changed", "added"] as const).forEach((kind) => this.diff![kind].forEach((n) => kinds.set(n, kind)));
    const node = new Map<number, string>();
    const group = new Map<number, string>();
    g.names.forEach((name, i) => {
      const kind = g.op[i] >= 0 ? kinds.get(name) : undefined;
      if (!kind) return;
      node.set(i, kind);
      for (let k = g.grp[i]; k >= 0; k = g.groups[k].parent) if (!group.has(k) || kind !== "changed") group.set(k, kind);
    });
    return { node, group };
  }

  private elements(view: View): { elements: ElementDefinition[]; colours: Map<string, string> } {
    const doc = this.doc!;
    const g = this.graph;
    const hv = this.heatValues(g);
    const dv = this.diffOf(g);
    const colours = new Map<string, string>();
    const out: ElementDefinition[] = [];
    const sel = this.selected && this.selected.graph === this.gid ? this.nodeIndex(this.selected.node) : -1;
    const heatT = (v: number | undefined, max: number) => (v === undefined ? null : max > 0 ? Math.sqrt(v / max) : 0);
    let groupMax = 0; // closed groups are coloured against each other
    if (hv) for (const p of view.placed) if (p.kind === "group") groupMax = Math.max(groupMax, hv.group.get(p.index) ?? 0);
    for (const p of view.placed) {
      const data: Record<string, unknown> = { id: p.id, w: p.w, h: p.h, z: p.depth * 3 + (p.kind === "box" ? 0 : 2), bw: 0, bc: "#000", op: 1 };
      const classes: string[] = [p.kind];
      if (p.kind === "node") {
        const i = p.index;
        const op = g.op[i];
        const io = op === INPUT || op === OUTPUT || op === CAPTURED;
        const opName = io ? (op === INPUT ? "input" : op === OUTPUT ? "output" : "from outer graph") : doc.ops[op];
        let bg = io ? (op === CAPTURED ? CAPTURED_COLOUR : IO_COLOUR) : doc.colours[doc.families[op]] ?? "#6d4c41";
        let fg = "#ffffff";
        const folded = g.folded[i] ? ` ⊕${g.folded[i]}` : "";
        const subs = g.sub[String(i)];
        data.label = io ? `${opName} · ${short(g.names[i], 18)}` : `${opName}${folded}${subs ? " ⤵" : ""}\n${short(g.names[i])}`;
        data.tw = p.w - 10;
        classes.push(io ? "io" : "leaf");
        if (subs) classes.push("sub");
        if (hv && !io) {
          const t = heatT(hv.node.get(i), hv.max);
          bg = t === null ? "#e0e0e0" : heat(t);
          fg = t !== null && t > 0.45 ? "#ffffff" : "#212121";
        }
        if (dv) {
          const kind = dv.node.get(i);
          data.op = kind || io ? 1 : 0.35;
          if (kind) {
            data.bw = 5;
            data.bc = DIFF_COLOURS[kind as keyof typeof DIFF_COLOURS];
            if (kind !== "changed") bg = data.bc as string;
          }
        }
        if (i === sel) classes.push("sel");
        if (this.hits.has(g.names[i])) classes.push("hit");
        data.bg = bg;
        data.fg = fg;
        colours.set(p.id, bg);
      } else {
        const grp = g.groups[p.index];
        const reps = grp.reps > 1 ? ` · ×${grp.reps}` : "";
        let bc = grp.rep >= 0 ? REPEAT_COLOURS[grp.rep % REPEAT_COLOURS.length] : "#90a4ae";
        let bg = p.kind === "box" ? (p.depth % 2 ? "#eef3f8" : "#f5f8fb") : "#e8eef5";
        let fg = "#263238";
        if (hv) {
          const t = heatT(hv.group.get(p.index), this.overlay!.agg === "max" ? hv.max : groupMax);
          if (t !== null && p.kind === "group") {
            bg = heat(t);
            fg = t > 0.45 ? "#ffffff" : "#212121";
          }
        }
        if (dv) {
          const kind = dv.group.get(p.index);
          data.op = kind ? 1 : 0.5;
          if (kind) bc = DIFF_COLOURS[kind as keyof typeof DIFF_COLOURS];
        }
        data.label = p.kind === "box" ? `▾ ${grp.label}${reps}` : `▸ ${grp.label}\n${grp.size} nodes${reps}`;
        data.tw = p.w - 12;
        data.bw = grp.rep >= 0 || dv?.group.has(p.index) ? 3 : 1.5;
        data.bc = bc;
        data.bg = bg;
        data.fg = fg;
        colours.set(p.id, p.kind === "box" ? "#cfd8dc" : bg);
      }
      out.push({ group: "nodes", data, position: { x: p.x, y: p.y }, classes: classes.join(" ") });
    }
    const picked = new Set(this.tensors);
    const pos = new Map(view.placed.map((p) => [p.id, p]));
    for (const e of view.edges) {
      const s = pos.get(e.source)!;
      const t = pos.get(e.target)!;
      const first = e.edges[0];
      const tensor = g.tensor[first];
      const label = e.edges.length > 1 ? `${e.edges.length} tensors` : `${doc.shapes[g.shape[first]]}`;
      const data: Record<string, unknown> = { id: e.id, source: e.source, target: e.target, label, tensor, z: Math.max(s.depth, t.depth) * 3 + 1, op: dv ? 0.5 : 1 };
      const classes: string[] = [];
      if (this.showShapes) classes.push("labelled");
      if (e.edges.some((j) => picked.has(g.tensor[j]))) classes.push("picked");
      if (e.route && e.route.length) {
        const dx = t.x - s.x;
        const dy = t.y - s.y;
        const l2 = dx * dx + dy * dy;
        if (l2 > 1) {
          const l = Math.sqrt(l2);
          const ws: number[] = [];
          const ds: number[] = [];
          for (const p of e.route) {
            ws.push(((p.x - s.x) * dx + (p.y - s.y) * dy) / l2);
            ds.push(((p.x - s.x) * -dy + (p.y - s.y) * dx) / l);
          }
          if (ds.some((d) => Math.abs(d) > 4)) {
            data.sw = ws.join(" ");
            data.sd = ds.join(" ");
            classes.push("routed");
          }
        }
      }
      out.push({ group: "edges", data, classes: classes.join(" ") });
    }
    return { elements: out, colours };
  }

  /** Open or close group ``k`` of the current graph, keeping it in place on screen. */
  toggle(k: number): void {
    const open = this.openSet();
    if (open.has(k)) {
      open.delete(k);
      // closing a group closes what is inside it too
      const h = this.hierarchy!;
      for (const other of [...open]) if (h.groupChain(other).includes(k)) open.delete(other);
    } else open.add(k);
    this.draw(`g${k}`);
  }

  openLevel(): void {
    const h = this.hierarchyOf(this.gid);
    const open = this.openSet();
    const closed = this.graph.groups.map((_, k) => k).filter((k) => !open.has(k) && h.groupChain(k).slice(0, -1).every((p) => open.has(p)));
    closed.forEach((k) => open.add(k));
    this.draw("keep");
  }

  closeAll(): void {
    this.openSet().clear();
    this.cameras.delete(this.gid);
    this.draw();
  }

  /** Show graph ``gid`` (a subgraph, or back up the breadcrumb), with its own remembered view. */
  enter(gid: string): void {
    if (!this.doc?.graphs[gid] || gid === this.gid) return;
    this.cameras.set(this.gid, { zoom: this.cy.zoom(), pan: { ...this.cy.pan() } });
    this.gid = gid;
    this.draw();
  }

  /** Go to node ``name`` of graph ``gid``: enter the graph, open its groups, centre and select it. */
  reveal(gid: string, name: string, select = true): boolean {
    if (!this.doc?.graphs[gid]) return false;
    if (gid !== this.gid) this.enter(gid);
    const i = this.nodeIndex(name);
    if (i < 0) return false;
    const h = this.hierarchyOf(gid);
    const open = this.openSet();
    h.chain(i).forEach((k) => open.add(k));
    if (select) this.selected = { graph: gid, node: name };
    this.draw("keep");
    const ele = this.cy.getElementById(`n${i}`);
    if (ele.nonempty()) {
      const zoom = Math.max(this.cy.zoom(), 0.8);
      this.cy.viewport({ zoom, pan: { x: this.cy.width() / 2 - ele.position().x * zoom, y: this.cy.height() / 2 - ele.position().y * zoom } });
    }
    return true;
  }

  saveCamera(): void {
    this.cameras.set(this.gid, { zoom: this.cy.zoom(), pan: { ...this.cy.pan() } });
  }
}
