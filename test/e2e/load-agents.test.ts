// The load tool (scripts/load-agents.ts) must keep measuring what it claims: real agent streams
// through a real coordinator, each result stored once. Behaviour only: no figure is asserted.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/local-fleet.js";
import type { LoadFigures } from "../../scripts/load-agents.js";
import { queryDb, Workspace } from "./fixtures.js";

const TOOL = join(ROOT, "dist", "scripts", "load-agents.js");

/** Runs the tool in its own process group (it starts a coordinator and workers), killed whole at the end. */
async function load(args: string[]): Promise<{ code: number | null; figures?: LoadFigures; stderr: string }> {
  const child = spawn(process.execPath, [TOOL, ...args, "--json"], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 25_000);
  try {
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    return { code, figures: out.trim() ? (JSON.parse(out) as LoadFigures) : undefined, stderr: err };
  } finally {
    clearTimeout(timer);
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // the group is gone already
    }
  }
}

describe("load tool", () => {
  let ws: Workspace;
  afterEach(async () => ws.cleanup());

  it("registers 20 simulated agents with a coordinator and runs a 20-check suite on all of them: GO, 20 × 20 results stored once", async () => {
    ws = new Workspace();
    const r = await load(["--nodes", "20", "--workers", "2", "--checks", "20", "--state-dir", ws.path("load")]);
    expect(r.code, r.stderr).toBe(0);
    const f = r.figures!;
    expect([f.nodes, f.runExitCode, f.tasks, f.tasksPassed, f.checkResults, f.distinctResults]).toEqual([20, 0, 20, 20, 400, 400]);
    const state = ws.path("load", "coord");
    // Twenty distinct machines, as twenty nodes of a fleet would be.
    expect(queryDb<{ n: number; machines: number; boots: number }>(state, "SELECT COUNT(*) AS n, COUNT(DISTINCT machine_id) AS machines, COUNT(DISTINCT boot_id) AS boots FROM nodes")).toEqual([{ n: 20, machines: 20, boots: 20 }]);
    expect(queryDb(state, "SELECT status FROM runs WHERE id = ?", f.runId)).toEqual([{ status: "passed" }]);
    // Each node's 20 checks, each once, from the machine that node is.
    expect(queryDb(state, "SELECT task_id, check_id FROM check_results GROUP BY task_id, check_id HAVING COUNT(*) > 1")).toEqual([]);
    const perNode = queryDb<{ node: string; n: number; passed: number; wrongHost: number }>(
      state,
      "SELECT t.node_name AS node, COUNT(*) AS n, SUM(c.status = 'passed') AS passed, SUM(c.origin_machine_id != n.machine_id) AS wrongHost FROM check_results c JOIN tasks t ON t.id = c.task_id JOIN nodes n ON n.name = t.node_name WHERE t.run_id = ? GROUP BY t.node_name",
      f.runId,
    );
    expect(perNode).toHaveLength(20);
    for (const row of perNode) expect(row, row.node).toMatchObject({ n: 20, passed: 20, wrongHost: 0 });
  }, 30_000);

  it("refuses a count that is not a whole number ≥ 1 and an unknown flag, before starting anything", async () => {
    ws = new Workspace();
    const zero = await load(["--nodes", "0", "--state-dir", ws.path("load")]);
    expect(zero.code).not.toBe(0);
    expect(zero.stderr).toContain("--nodes must be a whole number ≥ 1, not 0");
    const unknown = await load(["--node", "5", "--state-dir", ws.path("load")]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("unknown option '--node'");
  });
});
