import { resolve } from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Two pages: our React call component, and the guide's plain livekit-client pattern.
export default defineConfig({
  plugins: [react()],
  // one React and one livekit-client, whichever package imports them
  resolve: { dedupe: ["react", "react-dom", "livekit-client"] },
  build: {
    rollupOptions: {
      input: {
        index: resolve(import.meta.dirname, "index.html"),
        guide: resolve(import.meta.dirname, "guide.html"),
      },
    },
  },
});
