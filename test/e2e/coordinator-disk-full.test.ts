// The coordinator's disk fills up mid-run (state dir on a small tmpfs, filled for a few seconds):
// events that fail to commit are never acked, the agent sends them again once there is room, and
// the run never passes with a result missing. Needs root (mount) like the network-namespace tests.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coordInBackground, onlineNodes, startAgent, startCoordinator, waitFor, coord, type Coordinator } from "../../scripts/local-fleet.js";
import { needs } from "../support/system-tools.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const CHECKS = 12;
const ITERATIONS = 6;
// Each check takes a moment and prints a little, so results keep arriving while the disk is full.
const SUITE = `suite: steady\nchecks:\n${Array.from({ length: CHECKS }, (_, i) => `  - id: c${i}\n    command: { argv: [sh, -c, "sleep 0.1; head -c 2000 /dev/zero | tr '\\\\0' x"] }\n`).join("")}`;
const PLAN = fleetPlan("steady", "steady.suite.yaml", ITERATIONS);

const root = process.getuid?.() === 0;

describe.skipIf(!needs(root ? undefined : "mounting a tmpfs needs root; run the tests as root"))("a coordinator whose disk fills up mid-run", () => {
  const ws = new Workspace();
  let c: Coordinator;
  let mounted = false;
  const state = ws.path("state");

  beforeAll(async () => {
    mkdirSync(state);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", state]);
    mounted = true;
    ws.write("steady.suite.yaml", SUITE);
    ws.write("plan.yaml", PLAN);
    // The evidence disk floor (256 MiB by default) would refuse any run on so small a disk.
    c = ws.track(await startCoordinator(state, ["--min-free", "1MiB"]));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "fleet" } }));
    await waitFor("agent online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
  });

  afterAll(async () => {
    await Promise.all(ws.procs.map((p) => p.stop("SIGKILL")));
    if (mounted) execFileSync("umount", ["-l", state]);
    await ws.cleanup();
  });

  it("stores every result exactly once, or does not pass: never passed with a gap", async () => {
    const run = coordInBackground(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    const stored = () => queryDb<{ n: number }>(state, "SELECT COUNT(*) AS n FROM check_results")[0]?.n ?? 0;
    await waitFor("the first results", () => (stored() >= CHECKS ? true : undefined), 30_000);

    // Fill the disk: a file as large as the free space, held for 5 s, then removed.
    const filler = join(state, "filler");
    const { bavail, bsize } = statfsSync(state);
    try {
      writeFileSync(filler, Buffer.alloc(Number(bavail) * Number(bsize)));
    } catch {
      // ENOSPC part way: the disk is full, which is the point.
    }
    await new Promise((r) => setTimeout(r, 5_000));
    rmSync(filler, { force: true });

    const result = await run.result;
    expect(result.stderr).not.toMatch(/refus/);
    const log = c.stderr();
    // The fault was hit: some event failed to commit and was refused, not acked.
    expect(log).toContain("event not committed");

    const tasks = queryDb<{ id: string; status: string }>(state, "SELECT id, status FROM tasks ORDER BY iteration");
    expect(tasks).toHaveLength(ITERATIONS);
    for (const t of tasks) {
      const rows = queryDb<{ n: number; distinct_checks: number }>(state, "SELECT COUNT(*) AS n, COUNT(DISTINCT check_id) AS distinct_checks FROM check_results WHERE task_id = ?", t.id)[0];
      // A passed task has every one of its results, each once.
      if (t.status === "passed") expect(rows, t.id).toEqual({ n: CHECKS, distinct_checks: CHECKS });
    }
    const [runRow] = queryDb<{ status: string }>(state, "SELECT status FROM runs");
    if (runRow?.status === "passed") expect(tasks.every((t) => t.status === "passed")).toBe(true);
    // Loopback agents share the coordinator's host: never GO here, whatever happened.
    expect(result.exitCode).not.toBe(0);
  }, 180_000);
});
