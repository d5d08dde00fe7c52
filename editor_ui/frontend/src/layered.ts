// A layered (Sugiyama-style) layout of one container's members: top to bottom, long edges kept clear.
//
// Steps: topological order (a cycle, possible once groups are contracted, is broken at the earliest
// member), longest-path layers with sources pulled down to just above their first consumer, dummy
// points on edges that skip layers, barycentre ordering sweeps, then x from the mean of the upper
// neighbours with a left-to-right packing pass. A container holds at most a few dozen members
// (scopes.py splits wider levels), so each call is cheap; a whole 30,000-node model is many calls.

export interface Layered {
  x: number[]; // centres, members only
  y: number[];
  width: number;
  height: number;
  routes: Map<number, { x: number; y: number }[]>; // edge index -> bend points (dummy centres)
}

export const HGAP = 26;
export const VGAP = 38;
const DUMMY_W = 14;

export function layered(n: number, w: number[], h: number[], edges: [number, number][]): Layered {
  const seen = new Set<number>();
  const fwd: [number, number, number][] = []; // a, b, edge index
  const succ: number[][] = Array.from({ length: n }, () => []);
  const pred: number[][] = Array.from({ length: n }, () => []);
  edges.forEach(([a, b], k) => {
    if (a === b) return;
    const key = a * 1_000_003 + b;
    if (seen.has(key)) return;
    seen.add(key);
    succ[a].push(b);
    pred[b].push(a);
    fwd.push([a, b, k]);
  });
  // topological order, breaking cycles at the earliest unplaced member
  const indeg = pred.map((p) => p.length);
  const placed = new Array<boolean>(n).fill(false);
  const order: number[] = [];
  const ready: number[] = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) ready.push(i);
  while (order.length < n) {
    let v: number;
    if (ready.length) {
      let best = 0;
      for (let k = 1; k < ready.length; k++) if (ready[k] < ready[best]) best = k;
      v = ready.splice(best, 1)[0];
    } else {
      v = placed.findIndex((p) => !p);
    }
    if (placed[v]) continue;
    placed[v] = true;
    order.push(v);
    for (const s of succ[v]) if (!placed[s] && --indeg[s] === 0) ready.push(s);
  }
  const rank = new Array<number>(n).fill(0);
  order.forEach((v, k) => (rank[v] = k));
  const layer = new Array<number>(n).fill(0);
  for (const v of order) for (const p of pred[v]) if (rank[p] < rank[v]) layer[v] = Math.max(layer[v], layer[p] + 1);
  for (let k = order.length - 1; k >= 0; k--) {
    const v = order[k];
    const ups = pred[v].filter((p) => rank[p] < rank[v]);
    const downs = succ[v].filter((s) => rank[s] > rank[v]);
    if (!ups.length && downs.length) layer[v] = Math.max(layer[v], Math.min(...downs.map((s) => layer[s])) - 1);
  }
  // dummy points on long forward edges
  const width = w.slice();
  const height = h.slice();
  const lay = layer.slice();
  const up: number[][] = Array.from({ length: n }, () => []);
  const down: number[][] = Array.from({ length: n }, () => []);
  const chains = new Map<number, number[]>();
  for (const [a, b, k] of fwd) {
    if (rank[a] > rank[b]) continue; // a back edge of a broken cycle: drawn, not laid out
    let prev = a;
    const chain: number[] = [];
    for (let l = layer[a] + 1; l < layer[b]; l++) {
      const d = width.length;
      width.push(DUMMY_W);
      height.push(0);
      lay.push(l);
      up.push([prev]);
      down.push([]);
      down[prev].push(d);
      chain.push(d);
      prev = d;
    }
    down[prev].push(b);
    up[b].push(prev);
    if (chain.length) chains.set(k, chain);
  }
  const total = width.length;
  const depth = Math.max(0, ...lay) + 1;
  const rows: number[][] = Array.from({ length: depth }, () => []);
  const byRank = (v: number) => (v < n ? rank[v] : n + v);
  Array.from({ length: total }, (_, v) => v)
    .sort((a, b) => byRank(a) - byRank(b))
    .forEach((v) => rows[lay[v]].push(v));
  const pos = new Array<number>(total).fill(0);
  const renumber = (row: number[]) => row.forEach((v, k) => (pos[v] = k));
  rows.forEach(renumber);
  const mean = (vs: number[], fallback: number) => (vs.length ? vs.reduce((s, v) => s + pos[v], 0) / vs.length : fallback);
  for (let sweep = 0; sweep < 4; sweep++) {
    const downward = sweep % 2 === 0;
    const seq = downward ? rows.slice(1) : rows.slice(0, -1).reverse();
    for (const row of seq) {
      const key = new Map(row.map((v) => [v, mean(downward ? up[v] : down[v], pos[v])]));
      row.sort((a, b) => key.get(a)! - key.get(b)! || pos[a] - pos[b]);
      renumber(row);
    }
  }
  // x: mean of upper neighbours, packed left to right; sources then follow their consumers
  const x = new Array<number>(total).fill(0);
  const place = (row: number[], want: (v: number) => number) => {
    let cursor = -Infinity;
    const wanted: number[] = [];
    for (const v of row) {
      const target = want(v);
      const left = cursor === -Infinity ? target : Math.max(target, cursor + width[v] / 2);
      x[v] = Number.isNaN(left) ? (cursor === -Infinity ? width[v] / 2 : cursor + width[v] / 2) : left;
      cursor = x[v] + width[v] / 2 + (v < n ? HGAP : HGAP / 3);
      if (!Number.isNaN(target)) wanted.push(x[v] - target);
    }
    if (wanted.length) {
      const shift = wanted.reduce((s, d) => s + d, 0) / wanted.length;
      for (const v of row) x[v] -= shift;
    }
  };
  const centre = (vs: number[]) => (vs.length ? vs.reduce((s, v) => s + x[v], 0) / vs.length : NaN);
  let cursor0 = 0;
  for (const v of rows[0]) {
    x[v] = cursor0 + width[v] / 2;
    cursor0 += width[v] + HGAP;
  }
  for (const row of rows.slice(1)) place(row, (v) => centre(up[v]));
  for (const row of rows.slice(0, -1).reverse()) place(row, (v) => (up[v].length ? x[v] : centre(down[v])));
  // y: one band per layer
  const bandTop: number[] = [];
  let top = 0;
  for (const row of rows) {
    bandTop.push(top);
    top += Math.max(0, ...row.map((v) => height[v])) + VGAP;
  }
  const bandH = rows.map((row) => Math.max(0, ...row.map((v) => height[v])));
  const y = new Array<number>(total);
  for (let v = 0; v < total; v++) y[v] = bandTop[lay[v]] + bandH[lay[v]] / 2;
  let minX = Infinity;
  let maxX = -Infinity;
  for (let v = 0; v < total; v++) {
    minX = Math.min(minX, x[v] - width[v] / 2);
    maxX = Math.max(maxX, x[v] + width[v] / 2);
  }
  if (!Number.isFinite(minX)) minX = maxX = 0;
  const routes = new Map<number, { x: number; y: number }[]>();
  chains.forEach((chain, k) => routes.set(k, chain.map((d) => ({ x: x[d] - minX, y: y[d] }))));
  return {
    x: x.slice(0, n).map((v) => v - minX),
    y: y.slice(0, n),
    width: maxX - minX,
    height: Math.max(0, top - VGAP),
    routes,
  };
}
