import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// `vite` (dev) and `vite preview` forward /api to a running Vocable API, so the dashboard
// can be developed against real data: VOCABLE_API_URL=http://127.0.0.1:8000 npm run dev
const api = process.env["VOCABLE_API_URL"] ?? "http://127.0.0.1:8000";
const proxy = { "/api": { target: api, changeOrigin: false } };

export default defineConfig({
  base: "/",
  plugins: [react()],
  resolve: {
    // Bundle the workspace packages from their sources (as tsconfig.json's `paths` does):
    // the dashboard builds without building them first, and always matches them.
    alias: [
      { find: /^@vocable\/client$/, replacement: source("../client/src/index.ts") },
      { find: /^@vocable\/react$/, replacement: source("../react/src/index.ts") },
      { find: /^@vocable\/react\/styles\.css$/, replacement: source("../react/src/styles.css") },
    ],
  },
  // livekit-client makes the lazily loaded call panel ~600 kB; the app shell stays small
  build: { outDir: "dist", assetsDir: "assets", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 700 },
  server: { proxy },
  preview: { proxy },
});
