import { defineConfig } from "vite";

// Built into the Python package: editor_ui/static/canvas (committed, so users need no node).
export default defineConfig({
  base: "./",
  build: {
    outDir: "../static/canvas",
    emptyOutDir: true,
    target: "es2020",
    chunkSizeWarningLimit: 1200,
    rollupOptions: { output: { entryFileNames: "canvas.js", assetFileNames: "[name][extname]" } },
  },
});
