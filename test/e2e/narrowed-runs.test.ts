// Scope is part of the run, through the real `coord` binary against a real coordinator and two
// loopback agents: a run narrower than its plan (--iterations below it, a --node subset, --only)
// may pass, but it is not GO and cannot be signed off until each override is accepted by name.
// Loopback agents share the coordinator's host, an attestation flag that is cleared in SQLite
// before signing off, as test/e2e/signoff.test.ts does: that flag is not what is tested here.
import Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const SUITE = `
suite: narrow
checks:
  - id: echo
    command: { argv: [echo, hello], expect: { stdout: hello } }
  - id: truth
    command: { argv: ["true"] }
`;

const PLAN = fleetPlan("narrow-plan", "narrow.suite.yaml", 2);

describe("a run narrower than its plan", () => {
  const ws = new Workspace();
  let c: Coordinator;

  /** Runs the fleet stage with extra flags; returns the new run's id and the CLI result. */
  async function runFleet(...flags: string[]) {
    const before = new Set(queryDb<{ id: string }>(c.stateDir, "SELECT id FROM runs").map((r) => r.id));
    const result = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml"), ...flags]);
    const runId = queryDb<{ id: string }>(c.stateDir, "SELECT id FROM runs").map((r) => r.id).find((id) => !before.has(id)) ?? "";
    // Stands in for nodes on hosts of their own (see the header).
    const db = new Database(join(c.stateDir, "coord.db"));
    db.prepare("UPDATE runs SET flags_json = '[]' WHERE id = ?").run(runId);
    db.close();
    return { runId, result };
  }

  const signoffs = () => queryDb<{ run_id: string; accepted_overrides_json: string }>(c.stateDir, "SELECT run_id, accepted_overrides_json FROM signoffs");

  beforeAll(async () => {
    ws.write("narrow.suite.yaml", SUITE);
    ws.write("plan.yaml", PLAN);
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    for (const name of ["node-a", "node-b"]) ws.track(startAgent({ name, address: c.address, token, stateDir: ws.path(name), labels: { role: "fleet" } }));
    await waitFor("both agents online", async () => ((await onlineNodes(c)).length === 2 ? true : undefined));
  });

  afterAll(async () => ws.cleanup());

  it("with --iterations 1 of 2 passes every task, says so, is refused at sign-off, and signs once the override is accepted", async () => {
    const { runId, result } = await runFleet("--iterations", "1");
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stdout).toContain("scope narrowed: iterations 1 of 2 on fleet");
    expect(queryDb(c.stateDir, "SELECT status FROM tasks WHERE run_id = ?", runId)).toEqual([{ status: "passed" }, { status: "passed" }]);

    const refused = await coord(c, ["signoff", runId, "--by", "admin"]);
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toContain("scope narrowed: iterations 1 of 2 on fleet");
    expect(refused.stderr).toContain("--accept-override NAME --reason TEXT (not accepted: iterations)");
    expect(signoffs()).toEqual([]);
    expect((await coord(c, ["known-good"])).stdout).toMatch(/^no signed-off runs/);

    const signed = await coord(c, ["signoff", runId, "--by", "admin", "--accept-override", "iterations", "--reason", "hotfix: one iteration agreed"]);
    expect(signed.exitCode, signed.stderr).toBe(0);
    expect(signed.stdout).toContain("accepted override iterations: hotfix: one iteration agreed");
    expect(signoffs()).toEqual([{ run_id: runId, accepted_overrides_json: JSON.stringify([{ target: "iterations", reason: "hotfix: one iteration agreed", source: "sign-off" }]) }]);
    expect((await coord(c, ["show", runId])).exitCode).toBe(0);
    expect((await coord(c, ["known-good"])).stdout).toContain(runId);

    const report = await coord(c, ["report", runId, "--format", "md"]);
    expect(report.stdout).toContain("iterations 1 of 2 on fleet");
    expect(report.stdout).toContain("hotfix: one iteration agreed");
    const bundled = JSON.parse(readFileSync(join(c.stateDir, "runs", runId, "run.json"), "utf8")) as { overrides?: { name: string; detail: string }[] };
    expect(bundled.overrides).toEqual([{ name: "iterations", detail: "iterations 1 of 2 on fleet" }]);
  });

  it("on one node of two (--node) is refused at sign-off, naming the nodes left out", async () => {
    const { runId, result } = await runFleet("--node", "node-b");
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stdout).toContain("scope narrowed: nodes node-b of node-a, node-b on fleet");
    const refused = await coord(c, ["signoff", runId, "--by", "admin"]);
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toContain("(not accepted: nodes)");
    expect(signoffs().map((s) => s.run_id)).not.toContain(runId);
  });

  it("with --only runs that check alone and is refused at sign-off naming the override; a wrong override name is refused too", async () => {
    const { runId, result } = await runFleet("--only", "echo");
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stdout).toContain("scope narrowed: only checks echo (--only)");
    const ran = queryDb<{ check_id: string }>(c.stateDir, "SELECT DISTINCT c.check_id FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ?", runId);
    expect(ran).toEqual([{ check_id: "echo" }]);
    const refused = await coord(c, ["signoff", runId, "--by", "admin", "--accept-override", "iterations", "--reason", "x"]);
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toContain(`run ${runId} has no override iterations (its overrides: only)`);
    expect(signoffs().map((s) => s.run_id)).not.toContain(runId);
  });
});
