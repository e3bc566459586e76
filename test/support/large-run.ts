// A large run for the reports-at-scale tests: scripts/synthetic-run.ts written into a real coord.db
// in a temp dir and read back as GetRun reads it (runWithFlakes), so the reports are tested on
// what the store gives them. Building is not what is tested: no fsync per commit.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runWithFlakes } from "../../coordinator/judgement/stored.js";
import { openDb } from "../../coordinator/store/db.js";
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { writeSyntheticRun } from "../../scripts/synthetic-run.js";

export function largeRun(nodes: number, iterations = 5): RunRecord {
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-large-run-"));
  try {
    const db = openDb(join(dir, "coord.db"));
    try {
      db.pragma("synchronous = OFF");
      writeSyntheticRun(db, "large", { nodes, iterations });
      const run = runWithFlakes(db, "large");
      if (!run) throw new Error("the synthetic run is not in the store");
      return run;
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
