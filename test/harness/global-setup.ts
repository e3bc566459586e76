// vitest globalSetup: once every test file is done, remove netns fleets whose test process is gone.
// A worker that vitest kills (a hung file, a timeout) never runs its afterAll, and the next fleet's
// sweep may be a whole CI run away, so the test run cleans up after itself here.
import { sweepStaleFleets } from "./teardown.js";

export async function teardown(): Promise<void> {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return; // no fleet could have been made
  try {
    const removed = await sweepStaleFleets(Date.now());
    if (removed.length) process.stderr.write(`netns harness: removed fleets left by killed test processes: ${removed.join(", ")}\n`);
  } catch (err) {
    process.stderr.write(`netns harness: could not sweep leftover fleets: ${(err as Error).message}\n`);
  }
}
