import { defineConfig } from "vite";

// The app embeds ui/dist; relative asset paths keep it working under tauri://localhost.
export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  test: { environment: "node" },
} as never);
