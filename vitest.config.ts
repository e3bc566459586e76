import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Sweeps network namespaces of the multi-host harness left by a worker vitest killed.
    globalSetup: ["test/harness/global-setup.ts"],
    // End-to-end tests start real coordinators and agents; two cores, so keep files serial-ish.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
