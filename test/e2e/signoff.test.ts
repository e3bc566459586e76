// Sign-off, known-good and diff through the real `coord` binary against a real coordinator and a
// loopback agent, signed with the tokens of two admins, alice and bob (coord user add). A loopback agent runs on the coordinator's own host, so its runs carry that
// attestation flag and are refused; the GO path clears the flag in SQLite, standing in for a node
// on a host of its own (distinct identities are proven by the network-namespace tests).
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { queryDb, Workspace } from "./fixtures.js";

const SUITE = `
suite: signoff
checks:
  - id: echo
    command: { argv: [echo, hello], expect: { stdout: hello } }
`;

const PLAN = `
plan: signoff-plan
stages:
  - id: fleet
    kind: fleet
    suite: signoff.suite.yaml
    nodes: { role: fleet }
`;

describe("coord signoff, known-good and diff on a real coordinator", () => {
  const ws = new Workspace();
  let c: Coordinator;
  const runIds: string[] = [];
  const tokens = { alice: "", bob: "" };

  beforeAll(async () => {
    ws.write("signoff.suite.yaml", SUITE);
    ws.write("plan.yaml", PLAN);
    c = ws.track(await startCoordinator(ws.path("state")));
    for (const name of ["alice", "bob"] as const) tokens[name] = (await coord(c, ["user", "add", name, "--role", "admin"])).stdout.trim();
    expect(tokens.alice).toMatch(/^fgp_/);
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "fleet" } }));
    await waitFor("agent online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
    for (let i = 0; i < 2; i++) {
      await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
      const ids = queryDb<{ id: string }>(c.stateDir, "SELECT id FROM runs ORDER BY created_at, rowid").map((r) => r.id);
      runIds.splice(0, runIds.length, ...ids);
    }
    expect(runIds).toHaveLength(2);
  });

  afterAll(async () => ws.cleanup());

  it("refuses to sign off a run whose agent ran on the coordinator's host, and records nothing", async () => {
    const r = await coord(c, ["signoff", runIds[0] ?? "", "--token", tokens.alice]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/not valid for sign-off: node node-a runs on the coordinator's own host/);
    expect(queryDb(c.stateDir, "SELECT * FROM signoffs")).toEqual([]);
    expect((await coord(c, ["known-good"])).stdout).toBe("no signed-off runs; sign a GO run off with: coord signoff RUN");
  });

  it("signs a clean GO run off once, as the person whose token it is, and lists it as known-good", async () => {
    const runId = runIds[1] ?? "";
    const db = new Database(join(c.stateDir, "coord.db"));
    db.prepare("UPDATE runs SET flags_json = '[]' WHERE id = ?").run(runId);
    db.close();
    // --by naming the token's own person still works, as it did before tokens had names.
    const signed = await coord(c, ["signoff", runId, "--by", "alice", "--token", tokens.alice]);
    expect(signed.exitCode, signed.stderr).toBe(0);
    expect(signed.stdout).toMatch(new RegExp(`^run ${runId} \\(signoff-plan\\) signed off by alice at \\d{4}-`));
    expect(queryDb<{ run_id: string; signed_by: string }>(c.stateDir, "SELECT run_id, signed_by FROM signoffs")).toEqual([{ run_id: runId, signed_by: "alice" }]);

    const again = await coord(c, ["signoff", runId, "--token", tokens.bob]);
    expect(again.exitCode).toBe(3);
    expect(again.stderr).toMatch(/already signed off by alice/);

    const good = await coord(c, ["known-good", "signoff-plan"]);
    expect(good.stdout.split("\n")[1]).toMatch(new RegExp(`^${runId} +signoff-plan +[0-9a-f]{16} +alice +`));
  });

  it("diffs the two runs: same checks, same node", async () => {
    const d = await coord(c, ["diff", runIds[0] ?? "", runIds[1] ?? ""]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(d.stdout).toBe(`diff ${runIds[0]} -> ${runIds[1]} (plan signoff-plan)\n\nno difference in check outcomes or node facts`);
  });
});
