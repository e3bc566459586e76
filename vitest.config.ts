import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Sweeps network namespaces of the multi-host harness left by a worker vitest killed.
    globalSetup: ["test/harness/global-setup.ts"],
    // End-to-end tests start real coordinators and agents, and spend most of their time waiting on
    // them (leases, heartbeats, sleeps in suites): three files at once on two cores took the whole
    // suite from 751 s to 633 s, every test passing under FLEETGATE_TEST_STRICT=1 (issue 19 added
    // PostgreSQL to a dozen files and pushed .ci/run to 14 min with two).
    fileParallelism: true,
    maxWorkers: 3,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
