import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Test against the client's sources (as tsconfig.json's `paths` does), not its build.
    alias: { "@vocable/client": new URL("../client/src/index.ts", import.meta.url).pathname },
  },
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.{ts,tsx}"],
  },
});
