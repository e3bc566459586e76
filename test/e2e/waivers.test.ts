// Waivers through the real binaries: `coord run --waivers` against a real coordinator and a
// loopback agent, then `coord show`, `coord report`, `coord signoff`, and `fleetgate-agent check
// --waivers`. A loopback agent runs on the coordinator's own host, so its runs carry that
// attestation flag (INCOMPLETE, exit 2): the assertions read the verdict's reasons and the stored
// statuses, and the GO path clears the flag in SQLite as test/e2e/signoff.test.ts does.
import Database from "better-sqlite3";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_BIN, coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { queryDb, Workspace } from "./fixtures.js";

const SUITE = `
suite: waived
checks:
  - id: api
    command: { argv: [sh, -c, "echo upstream down; exit 1"] }
  - id: health
    command: { argv: [echo, ok], expect: { stdout: ok } }
`;

const PLAN = `
plan: waiver-plan
stages:
  - id: fleet
    kind: fleet
    suite: waived.suite.yaml
    nodes: { role: fleet }
`;

const WAIVERS = `
- check: api
  role: fleet
  reason: upstream outage INC-42, fixed in 2.4
  owner: alice
  expires: 2099-12-31
- check: health
  node: node-a
  reason: an old waiver nobody removed
  owner: bob
  expires: 2020-01-01
- check: apii
  reason: a typo, which waives nothing
  owner: carol
  expires: 2099-12-31
`;

const EXPIRED = `
- check: api
  reason: upstream outage INC-42
  owner: alice
  expires: 2020-01-01
`;

const ATTESTATION = /^not valid for sign-off: node node-a runs on the coordinator's own host/;

describe("waivers on a real coordinator and agent", () => {
  const ws = new Workspace();
  let c: Coordinator;
  let waivedRun = "";

  const runIds = () => queryDb<{ id: string }>(c.stateDir, "SELECT id FROM runs ORDER BY created_at, rowid").map((r) => r.id);
  const show = async (runId: string) => JSON.parse((await coord(c, ["show", runId, "--json"])).stdout) as { verdict: string; reasons: string[]; waived: string[]; expiredWaivers: string[]; status: string };

  beforeAll(async () => {
    ws.write("waived.suite.yaml", SUITE);
    ws.write("plan.yaml", PLAN);
    ws.write("waivers.yaml", WAIVERS);
    ws.write("expired.yaml", EXPIRED);
    ws.write("bad.yaml", "- check: api\n  reason: r\n  owner: o\n  expires: 2026-02-30\n");
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "fleet" } }));
    await waitFor("agent online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
  });

  afterAll(async () => ws.cleanup());

  it("refuses a bad waivers file before anything runs, naming file, line, column and field", async () => {
    const r = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml"), "--waivers", ws.path("bad.yaml")]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain(`${ws.path("bad.yaml")}:4:12 [0].expires: expected a date like 2026-12-31`);
    expect(runIds()).toEqual([]);
  });

  it("runs the waived check, shows it waived with its failure, lists the expired waiver, and holds the verdict only for attestation", async () => {
    const r = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml"), "--waivers", ws.path("waivers.yaml")]);
    expect(r.exitCode, r.stderr).toBe(2);
    waivedRun = runIds()[0] ?? "";
    expect(r.stdout).toMatch(/verdict: INCOMPLETE\n {2}not valid for sign-off: node node-a runs on the coordinator's own host/);
    expect(r.stdout).toContain("waived (1; each ran, its outcome excused by a waiver until it expires):");
    expect(r.stdout).toMatch(/ {2}api on fleet on node-a #1: waived \(failed: [^)]*exit[^)]*\); waiver by alice, expires 2099-12-31 \(.*waivers\.yaml:2:3\): upstream outage INC-42, fixed in 2\.4/);
    expect(r.stdout).toContain("expired waivers (ignored; those checks count as they are):");
    expect(r.stdout).toMatch(/ {2}waiver for health on node node-a \(.*waivers\.yaml:7:3, owner bob\) expired 2020-01-01: ignored, the check counts as it is/);

    // The check ran and failed underneath; its row keeps both, and the task and run are waived, never passed.
    const rows = queryDb<{ check_id: string; status: string; waiver_json: string }>(c.stateDir, "SELECT check_id, status, waiver_json FROM check_results ORDER BY check_id");
    expect(rows.map((x) => [x.check_id, x.status])).toEqual([["api", "waived"], ["health", "passed"]]);
    expect(JSON.parse(rows[0]?.waiver_json ?? "{}")).toMatchObject({ unwaived: "failed", waiver: { checkId: "api", owner: "alice", role: "fleet" } });
    expect(queryDb<{ status: string }>(c.stateDir, "SELECT status FROM tasks").map((t) => t.status)).toEqual(["waived"]);
    const stored = queryDb<{ status: string; options_json: string }>(c.stateDir, "SELECT status, options_json FROM runs")[0];
    expect(stored?.status).toBe("waived");
    // Stored with the run as given, expiry judged at its start.
    const waivers = (JSON.parse(stored?.options_json ?? "{}") as { waivers: { checkId: string; expired?: boolean }[] }).waivers;
    expect(waivers.map((w) => [w.checkId, w.expired ?? false])).toEqual([["api", false], ["health", true], ["apii", false]]);
    // Said before the run starts, on stderr: the expired waiver, and the one naming no check.
    expect(r.stderr).toMatch(/warning: waiver for health on node node-a \(.*waivers\.yaml:7:3, owner bob\) expired 2020-01-01: ignored/);
    expect(r.stderr).toMatch(/warning: waiver for apii \(.*waivers\.yaml:12:3\): plan .*plan\.yaml has no check apii; it waives nothing/);

    const s = await show(waivedRun);
    expect(s.verdict).toBe("INCOMPLETE");
    expect(s.reasons).toHaveLength(1);
    expect(s.reasons[0]).toMatch(ATTESTATION);
    expect(s.waived).toHaveLength(1);
    expect(s.expiredWaivers).toHaveLength(1);
  });

  it("is GO with the waiver once attestation is clean, lists it in the report, and sign-off records exactly the waiver that covered a check", async () => {
    const db = new Database(join(c.stateDir, "coord.db"));
    db.prepare("UPDATE runs SET flags_json = '[]' WHERE id = ?").run(waivedRun);
    db.close();
    const shown = await coord(c, ["show", waivedRun]);
    expect(shown.exitCode, shown.stdout).toBe(0);
    expect(shown.stdout).toContain("verdict: GO\nwaived (1;");

    const md = await coord(c, ["report", waivedRun, "--format", "md"]);
    expect(md.stdout).toContain("**Verdict: GO**");
    expect(md.stdout).toContain("## Waivers");
    expect(md.stdout).toMatch(/\| fleet \| node-a \| 1 \| api \| failed \| .* \| alice \| 2099-12-31 \| upstream outage INC-42, fixed in 2\.4 \|/);

    const signed = await coord(c, ["signoff", waivedRun]);
    expect(signed.exitCode, signed.stderr).toBe(0);
    expect(signed.stdout).toMatch(/ {2}accepted waiver api on role fleet: upstream outage INC-42, fixed in 2\.4 \(owner alice, expires 2099-12-31, .*waivers\.yaml:2:3\)/);
    expect(signed.stdout).toContain("  waived in this run:");
    const recorded = queryDb<{ waivers_json: string }>(c.stateDir, "SELECT waivers_json FROM signoffs")[0];
    expect((JSON.parse(recorded?.waivers_json ?? "[]") as { checkId: string }[]).map((w) => w.checkId)).toEqual(["api"]);
    const signedMd = await coord(c, ["report", waivedRun, "--format", "md"]);
    expect(signedMd.stdout).toContain("Waivers in force when signed off:");
  });

  it("ignores an expired waiver: the failing check counts as it is and the run is NO-GO", async () => {
    const r = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml"), "--waivers", ws.path("expired.yaml")]);
    expect(r.exitCode, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/verdict: NO-GO\n {2}fleet on node-a #1: failed/);
    expect(r.stdout).toMatch(/waiver for api on every node \(.*expired\.yaml:2:3, owner alice\) expired 2020-01-01: ignored/);
    expect(r.stdout).not.toContain("waived (");
    const last = runIds().at(-1) ?? "";
    expect(queryDb<{ status: string }>(c.stateDir, "SELECT c.status FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ? AND c.check_id = 'api'", last)).toEqual([{ status: "failed" }]);
  });

  it("fleetgate-agent check --waivers shows the waived check and exits 0; with the waiver expired it warns and exits 1", async () => {
    const check = (file: string, ...more: string[]) => execa(process.execPath, [AGENT_BIN, "check", ws.path("waived.suite.yaml"), "--waivers", ws.path(file), ...more], { reject: false, stdin: "ignore" });
    const active = await check("waivers.yaml", "--name", "node-a", "--role", "fleet");
    expect(active.exitCode, active.stderr).toBe(0);
    expect(active.stdout).toMatch(/WAIV {2}api +waived \(failed: /);
    expect(active.stdout).toMatch(/^waived: api \(failed: .*\); waiver by alice, expires 2099-12-31/m);
    expect(active.stderr).toMatch(/waiver for health on node node-a .* expired 2020-01-01: ignored/);
    // The waiver is for role fleet: on a node of another role it does not apply.
    const elsewhere = await check("waivers.yaml", "--name", "node-a", "--role", "primary");
    expect(elsewhere.exitCode).toBe(1);
    const expired = await check("expired.yaml");
    expect(expired.exitCode).toBe(1);
    expect(expired.stdout).toMatch(/FAIL {2}api/);
    expect(expired.stderr).toMatch(/waiver for api on every node .* expired 2020-01-01: ignored, the check counts as it is/);
  });
});
