import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** The API reference's files (Swagger UI and its start script) in dist/docs-assets/: the
 * API serves /docs from them, so it works offline (no CDN). */
function apiReferenceAssets(): Plugin {
  const swagger = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const files: Record<string, string> = {
    "swagger-ui-bundle.js": join(swagger, "swagger-ui-bundle.js"),
    "swagger-ui.css": join(swagger, "swagger-ui.css"),
    "init.js": source("api-reference/init.js"),
  };
  return {
    name: "vocable-api-reference-assets",
    apply: "build",
    generateBundle() {
      for (const [name, path] of Object.entries(files)) {
        // the bundle names a source map that is not shipped: drop the reference
        const text = readFileSync(path, "utf8").replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
        this.emitFile({ type: "asset", fileName: `docs-assets/${name}`, source: text });
      }
    },
  };
}

// `vite` (dev) and `vite preview` forward /api to a running Vocable API, so the dashboard
// can be developed against real data: VOCABLE_API_URL=http://127.0.0.1:8000 npm run dev
const api = process.env["VOCABLE_API_URL"] ?? "http://127.0.0.1:8000";
const proxy = { "/api": { target: api, changeOrigin: false } };

export default defineConfig({
  base: "/",
  plugins: [react(), apiReferenceAssets()],
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
