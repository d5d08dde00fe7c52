// Colours and Cytoscape styles: op families, repeated blocks, heat map and diff colours.

import type { StylesheetJson } from "cytoscape";

export const REPEAT_COLOURS = ["#1565c0", "#6a1b9a", "#00838f", "#ef6c00", "#2e7d32", "#ad1457", "#4e342e", "#283593"];
export const IO_COLOUR = "#37474f";
export const CAPTURED_COLOUR = "#78909c";
export const DIFF_COLOURS = { added: "#2e7d32", removed: "#c62828", changed: "#ff8f00" };
export const SELECTED = "#ffb300";

const RAMP = [
  [255, 243, 224],
  [255, 183, 77],
  [230, 81, 0],
  [127, 0, 0],
];

/** A colour on the heat ramp for ``t`` in [0, 1]. */
export function heat(t: number): string {
  const u = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const k = Math.min(RAMP.length - 2, Math.floor(u));
  const f = u - k;
  const c = RAMP[k].map((v, i) => Math.round(v + (RAMP[k + 1][i] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export const STYLE: StylesheetJson = ([
  {
    selector: "node",
    style: {
      shape: "round-rectangle",
      width: "data(w)",
      height: "data(h)",
      "background-color": "data(bg)",
      "background-opacity": 1,
      label: "data(label)",
      color: "data(fg)",
      "font-size": 11,
      "text-wrap": "ellipsis",
      "text-max-width": "data(tw)",
      "text-valign": "center",
      "text-halign": "center",
      "border-width": "data(bw)",
      "border-color": "data(bc)",
      "border-style": "solid",
      "min-zoomed-font-size": 6,
      "z-index": "data(z)",
      "z-index-compare": "manual",
      opacity: "data(op)",
    },
  },
  { selector: "node.leaf", style: { "text-wrap": "wrap" } },
  { selector: "node.io", style: { shape: "round-rectangle", "font-size": 10.5, "corner-radius": 14 } },
  { selector: "node.group", style: { "text-wrap": "wrap", "font-size": 11.5, "font-weight": 600 } },
  {
    selector: "node.box",
    style: {
      "text-valign": "top",
      "text-halign": "center",
      "text-margin-y": 21,
      "background-opacity": 0.55,
      "border-style": "dashed",
      "font-size": 12,
      "font-weight": 600,
      "text-wrap": "ellipsis",
    },
  },
  { selector: "node.sub", style: { "border-style": "double", "border-width": 4, "border-color": "#fdd835" } },
  { selector: "node.sel", style: { "border-color": SELECTED, "border-width": 5, "border-style": "solid" } },
  { selector: "node.hit", style: { "underlay-color": SELECTED, "underlay-opacity": 0.35, "underlay-padding": 6 } },
  {
    selector: "edge",
    style: {
      width: 1.4,
      "line-color": "#90a4ae",
      "target-arrow-color": "#90a4ae",
      "target-arrow-shape": "triangle",
      "arrow-scale": 0.8,
      "curve-style": "straight",
      "z-index": "data(z)",
      "z-index-compare": "manual",
      opacity: "data(op)",
    },
  },
  {
    selector: "edge.routed",
    style: {
      "curve-style": "segments",
      "segment-distances": "data(sd)",
      "segment-weights": "data(sw)",
      "edge-distances": "node-position",
    },
  },
  {
    selector: "edge.labelled",
    style: {
      label: "data(label)",
      "font-size": 9.5,
      color: "#37474f",
      "text-background-color": "#ffffff",
      "text-background-opacity": 0.9,
      "text-background-padding": "1px",
      "min-zoomed-font-size": 7,
    },
  },
  { selector: "edge.picked", style: { "line-color": "#ff6f00", "target-arrow-color": "#ff6f00", width: 4 } },
] as unknown[]) as StylesheetJson;
