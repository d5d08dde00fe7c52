// The canvas document made by editor_ui/canvas/doc.py.

export const INPUT = -1;
export const OUTPUT = -2;
export const CAPTURED = -3;

export interface Group {
  label: string;
  parent: number; // -1: the graph itself
  size: number; // nodes inside, all levels
  rep: number; // repeat class, -1 when unique
  reps: number; // how many groups share the class
  syn: boolean; // a range made to keep a level small, not a name scope
}

export interface GraphDoc {
  id: string;
  title: string;
  parent: string | null;
  names: string[];
  op: number[];
  grp: number[];
  folded: number[];
  sub: Record<string, [string, string][]>;
  groups: Group[];
  src: number[];
  dst: number[];
  shape: number[];
  dtype: number[];
  tensor: string[];
}

export interface Doc {
  token: string;
  root: string;
  ops: string[];
  families: string[];
  colours: Record<string, string>;
  shapes: string[];
  dtypes: string[];
  graphs: Record<string, GraphDoc>;
}

export interface Overlay {
  kind: "heat";
  label: string;
  values: Record<string, number>;
  agg?: "sum" | "max";
}

export interface Diff {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface Args {
  doc_url: string;
  token: string;
  height: number;
  view_key: string;
  selected: { graph: string; node: string } | null;
  tensors: string[];
  focus: { graph: string; node: string; nonce: number } | null;
  overlay: Overlay | null;
  diff: Diff | null;
  sync: string | null;
  pane: string;
}

/** Text made safe for innerHTML: node, tensor and group names come from the model file. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
