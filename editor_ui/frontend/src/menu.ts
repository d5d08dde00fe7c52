// Hover tips and the right-click menu of one-click edits.

import type { Canvas } from "./canvas";
import { escapeHtml as h, INPUT } from "./types";

const $ = (id: string) => document.getElementById(id)!;

type Send = (value: Record<string, unknown>) => void;

export function hideMenu(): void {
  $("menu").style.display = "none";
}

/** Wire tips and the context menu; ``select(i)`` selects node ``i`` as a click would. */
export function installMenu(canvas: Canvas, send: Send, select: (i: number) => void, kindOf: (i: number) => string): void {
  const cy = canvas.cy;
  cy.on("mouseover", "node, edge", (event) => {
    const ele = event.target;
    const g = canvas.graph;
    const doc = canvas.doc!;
    let text = "";
    if (ele.isEdge()) {
      const d = ele.data();
      const rows = canvas.view!.edges.find((e) => e.id === d.id)?.edges ?? [];
      text = rows.slice(0, 6).map((j) => `${h(g.tensor[j])}: ${h(doc.dtypes[g.dtype[j]])} ${h(doc.shapes[g.shape[j]])}`).join("<br>");
      if (rows.length > 6) text += `<br>… ${rows.length - 6} more`;
    } else if (ele.id()[0] === "n") {
      const i = Number(ele.id().slice(1));
      const op = g.op[i];
      text = `<b>${h(op >= 0 ? doc.ops[op] : kindOf(i))}</b> ${h(g.names[i])}`;
      if (g.folded[i]) text += `<br>${g.folded[i]} folded weight/constant input(s)`;
      const value = canvas.overlay?.values[g.names[i]];
      if (value !== undefined) text += `<br>${h(canvas.overlay!.label)}: ${h(Number(value).toPrecision(4))}`;
    } else {
      const grp = g.groups[Number(ele.id().slice(1))];
      text = `<b>${h(grp.label)}</b> · ${grp.size} nodes${grp.reps > 1 ? ` · one of ${grp.reps} alike` : ""}`;
    }
    const tip = $("tip");
    tip.innerHTML = text;
    tip.style.display = "block";
    const p = event.renderedPosition ?? ele.renderedPosition();
    tip.style.left = `${Math.min(p.x + 14, cy.width() - 260)}px`;
    tip.style.top = `${p.y + 48}px`;
  });
  cy.on("mouseout", "node, edge", () => ($("tip").style.display = "none"));

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
}
