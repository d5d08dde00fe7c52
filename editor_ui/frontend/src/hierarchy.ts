// The visible part of one graph: which groups are open, where each member sits, which edges are drawn.
//
// Layout is bottom-up: an open group is laid out first and then placed as one big member of its
// parent, so opening or closing a group only moves what lies below and beside it.

import { layered } from "./layered";
import { CAPTURED, GraphDoc, INPUT, OUTPUT } from "./types";

export const LEAF_W = 150;
export const LEAF_H = 38;
export const IO_W = 132;
export const IO_H = 30;
export const GROUP_W = 178;
export const GROUP_H = 48;
export const PAD = 14;
export const HEADER = 26;

export interface Placed {
  id: string; // n<i> for a node, g<k> for a group (closed, or the box of an open one)
  kind: "node" | "group" | "box";
  index: number;
  x: number; // centre
  y: number;
  w: number;
  h: number;
  depth: number;
}

export interface DrawnEdge {
  id: string;
  source: string;
  target: string;
  edges: number[]; // indices into the graph's edge arrays
  route: { x: number; y: number }[] | null;
}

export interface View {
  placed: Placed[];
  edges: DrawnEdge[];
  width: number;
  height: number;
}

const item = (v: number) => (v >= 0 ? `n${v}` : `g${-v - 1}`);

export class Hierarchy {
  readonly g: GraphDoc;
  readonly kids: number[][]; // [k + 1]: members of group k (root: 0); a node i >= 0, a group k as -(k + 1)
  private chains: (number[] | undefined)[];

  constructor(g: GraphDoc) {
    this.g = g;
    this.kids = Array.from({ length: g.groups.length + 1 }, () => []);
    g.groups.forEach((grp, k) => this.kids[grp.parent + 1].push(-(k + 1)));
    g.grp.forEach((k, i) => this.kids[k + 1].push(i));
    const first = new Array<number>(g.groups.length).fill(Infinity);
    g.grp.forEach((k, i) => {
      for (let c = k; c >= 0 && first[c] > i; c = g.groups[c].parent) first[c] = i;
    });
    const key = (v: number) => (v >= 0 ? v : first[-v - 1]);
    this.kids.forEach((list) => list.sort((a, b) => key(a) - key(b)));
    this.chains = new Array(g.names.length);
  }

  /** Groups from the top down to node ``i``'s own group. */
  chain(i: number): number[] {
    let c = this.chains[i];
    if (!c) {
      c = [];
      for (let k = this.g.grp[i]; k >= 0; k = this.g.groups[k].parent) c.push(k);
      c.reverse();
      this.chains[i] = c;
    }
    return c;
  }

  groupChain(k: number): number[] {
    const c: number[] = [];
    for (let p = k; p >= 0; p = this.g.groups[p].parent) c.push(p);
    return c.reverse();
  }

  /** The drawn member standing for node ``i``: itself, or its outermost closed group. */
  visible(i: number, open: Set<number>): string {
    for (const k of this.chain(i)) if (!open.has(k)) return `g${k}`;
    return `n${i}`;
  }

  leafSize(i: number): [number, number] {
    const op = this.g.op[i];
    return op === INPUT || op === OUTPUT || op === CAPTURED ? [IO_W, IO_H] : [LEAF_W, LEAF_H];
  }

  /** Lay out the graph with groups ``open`` opened; positions in model units, origin top-left. */
  layout(open: Set<number>): View {
    const g = this.g;
    const local = new Map<number, Map<number, number>>(); // container -> member -> local index
    const localOf = (c: number, v: number) => {
      let m = local.get(c);
      if (!m) {
        m = new Map(this.kids[c + 1].map((v2, k) => [v2, k]));
        local.set(c, m);
      }
      return m.get(v)!;
    };
    const inner = new Map<number, [number, number][]>();
    const direct = new Map<number, Map<string, number>>(); // container -> "a,b" -> local edge index
    const drawn = new Map<string, DrawnEdge>();
    const cut = (c: number[]) => {
      let m = 0;
      while (m < c.length && open.has(c[m])) m++;
      return m;
    };
    for (let j = 0; j < g.src.length; j++) {
      const s = g.src[j];
      const d = g.dst[j];
      const cs = this.chain(s);
      const cd = this.chain(d);
      const ms = cut(cs);
      const md = cut(cd);
      let depth = 0;
      while (depth < ms && depth < md && cs[depth] === cd[depth]) depth++;
      const a = depth < cs.length ? -(cs[depth] + 1) : s;
      const b = depth < cd.length ? -(cd[depth] + 1) : d;
      if (a === b) continue;
      const container = depth === 0 ? -1 : cs[depth - 1];
      const list = inner.get(container) ?? [];
      if (!inner.has(container)) inner.set(container, list);
      list.push([localOf(container, a), localOf(container, b)]);
      const vs = ms < cs.length ? `g${cs[ms]}` : `n${s}`;
      const vd = md < cd.length ? `g${cd[md]}` : `n${d}`;
      const key = `${vs}>${vd}`;
      let e = drawn.get(key);
      if (!e) {
        e = { id: `e${drawn.size}`, source: vs, target: vd, edges: [], route: null };
        drawn.set(key, e);
      }
      e.edges.push(j);
      if (item(a) === vs && item(b) === vd) {
        const m = direct.get(container) ?? new Map<string, number>();
        direct.set(container, m);
        if (!m.has(key)) m.set(key, list.length - 1);
      }
    }
    const sizes = new Map<number, { w: number; h: number; lay: ReturnType<typeof layered> }>();
    const measure = (c: number): { w: number; h: number } => {
      const members = this.kids[c + 1];
      const w: number[] = [];
      const h: number[] = [];
      for (const v of members) {
        if (v >= 0) {
          const [lw, lh] = this.leafSize(v);
          w.push(lw);
          h.push(lh);
        } else if (open.has(-v - 1)) {
          const s = measure(-v - 1);
          w.push(s.w);
          h.push(s.h);
        } else {
          w.push(GROUP_W);
          h.push(GROUP_H);
        }
      }
      const lay = layered(members.length, w, h, inner.get(c) ?? []);
      const size = c < 0 ? { w: lay.width, h: lay.height } : { w: Math.max(lay.width, 140) + 2 * PAD, h: lay.height + PAD + HEADER };
      sizes.set(c, { ...size, lay });
      return size;
    };
    const root = measure(-1);
    const placed: Placed[] = [];
    const place = (c: number, ox: number, oy: number, depth: number) => {
      const { lay } = sizes.get(c)!;
      const inset = c < 0 ? 0 : (sizes.get(c)!.w - 2 * PAD - lay.width) / 2;
      this.kids[c + 1].forEach((v, k) => {
        const x = ox + inset + lay.x[k];
        const y = oy + lay.y[k];
        if (v >= 0) {
          const [w, h] = this.leafSize(v);
          placed.push({ id: `n${v}`, kind: "node", index: v, x, y, w, h, depth });
        } else if (open.has(-v - 1)) {
          const s = sizes.get(-v - 1)!;
          placed.push({ id: `g${-v - 1}`, kind: "box", index: -v - 1, x, y, w: s.w, h: s.h, depth });
          place(-v - 1, x - s.w / 2 + PAD, y - s.h / 2 + HEADER, depth + 1);
        } else {
          placed.push({ id: `g${-v - 1}`, kind: "group", index: -v - 1, x, y, w: GROUP_W, h: GROUP_H, depth });
        }
      });
      const m = direct.get(c);
      if (m) {
        m.forEach((k, key) => {
          const route = lay.routes.get(k);
          if (route) drawn.get(key)!.route = route.map((p) => ({ x: ox + inset + p.x, y: oy + p.y }));
        });
      }
    };
    place(-1, 0, 0, 0);
    return { placed, edges: [...drawn.values()], width: root.w, height: root.h };
  }
}
