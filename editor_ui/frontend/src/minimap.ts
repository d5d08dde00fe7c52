// The overview in the corner: every drawn member as a small box and the viewport as a frame.
// Clicking or dragging in it moves the main view there.

import type { Core } from "cytoscape";
import type { View } from "./hierarchy";

export class Minimap {
  private canvas: HTMLCanvasElement;
  private cy: Core;
  private view: View | null = null;
  private colours = new Map<string, string>();
  private frame = 0;

  constructor(canvas: HTMLCanvasElement, cy: Core) {
    this.canvas = canvas;
    this.cy = cy;
    const move = (event: MouseEvent) => {
      const p = this.toModel(event.offsetX, event.offsetY);
      if (!p) return;
      const zoom = cy.zoom();
      cy.pan({ x: cy.width() / 2 - p.x * zoom, y: cy.height() / 2 - p.y * zoom });
    };
    let dragging = false;
    canvas.addEventListener("mousedown", (e) => {
      dragging = true;
      move(e);
    });
    canvas.addEventListener("mousemove", (e) => dragging && move(e));
    window.addEventListener("mouseup", () => (dragging = false));
    cy.on("viewport", () => this.schedule());
  }

  setView(view: View, colours: Map<string, string>): void {
    this.view = view;
    this.colours = colours;
    this.schedule();
  }

  private scale(): { s: number; ox: number; oy: number } | null {
    if (!this.view) return null;
    const { width, height } = this.canvas;
    const pad = 6;
    const s = Math.min((width - 2 * pad) / Math.max(this.view.width, 1), (height - 2 * pad) / Math.max(this.view.height, 1));
    return { s, ox: (width - this.view.width * s) / 2, oy: (height - this.view.height * s) / 2 };
  }

  private toModel(px: number, py: number): { x: number; y: number } | null {
    const k = this.scale();
    if (!k) return null;
    const sx = this.canvas.width / this.canvas.clientWidth;
    const sy = this.canvas.height / this.canvas.clientHeight;
    return { x: (px * sx - k.ox) / k.s, y: (py * sy - k.oy) / k.s };
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  draw(): void {
    const ctx = this.canvas.getContext("2d");
    const k = this.scale();
    if (!ctx || !k || !this.view) return;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    for (const p of this.view.placed) {
      const x = k.ox + (p.x - p.w / 2) * k.s;
      const y = k.oy + (p.y - p.h / 2) * k.s;
      const w = Math.max(1, p.w * k.s);
      const h = Math.max(1, p.h * k.s);
      if (p.kind === "box") {
        ctx.strokeStyle = "#b0bec5";
        ctx.strokeRect(x, y, w, h);
      } else {
        ctx.fillStyle = this.colours.get(p.id) ?? "#90a4ae";
        ctx.fillRect(x, y, w, h);
      }
    }
    const e = this.cy.extent();
    ctx.strokeStyle = "#d32f2f";
    ctx.lineWidth = 1.5;
    ctx.strokeRect(k.ox + e.x1 * k.s, k.oy + e.y1 * k.s, (e.x2 - e.x1) * k.s, (e.y2 - e.y1) * k.s);
  }
}
