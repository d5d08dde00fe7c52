// The frame around the graph: breadcrumb, counts, legend and the busy note.

import type { Canvas } from "./canvas";
import { DIFF_COLOURS } from "./style";
import { escapeHtml as h } from "./types";

const $ = (id: string) => document.getElementById(id)!;

export function chrome(canvas: Canvas): void {
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
  legend(canvas);
}

function legend(canvas: Canvas): void {
  const doc = canvas.doc!;
  const el = $("legend");
  const parts: string[] = [];
  if (canvas.overlay) {
    let max = 0;
    Object.values(canvas.overlay.values).forEach((v) => (max = Math.max(max, v)));
    parts.push(`<span><b>${h(canvas.overlay.label)}</b> 0<span class="ramp"></span>${h(max.toPrecision(3))}</span>`);
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
      if (families.has(f)) parts.push(`<span><span class="chip" style="background:${h(doc.colours[f])}"></span>${h(f)}</span>`);
    }
  }
  parts.push("<span>⊕n folded weights/constants</span><span>⤵ double-click: open body</span><span>▸ click: open group</span>");
  el.innerHTML = parts.join("");
}

export function busy(on: boolean, text = "Drawing…"): void {
  $("busy").textContent = text;
  $("busy").style.display = on ? "block" : "none";
}

