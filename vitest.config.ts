import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    exclude: ["dist/**", "node_modules/**"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // worlds are CPU-bound; two forks match this machine's two vCPUs
    pool: "forks",
    maxWorkers: 2,
  },
});
