// Issue 12, item 3: a run with more stored output than gRPC's 4 MiB message limit reads back
// through every command — run, show, report in each format, watch, runs, known-good, diff, signoff —
// on a real coordinator and a loopback agent. Each check prints 1.1 MB on stdout and on stderr; the
// agent keeps a bounded tail of each stream (its budget, not this test, says how much), and five
// checks in two iterations store more than 4 MiB of tails in all, which the first test verifies
// in SQLite. The loopback agent shares the coordinator's
// host, so the run is flagged not valid for sign-off; signing off clears that flag in SQLite as
// test/e2e/signoff.test.ts does, standing in for a node on a host of its own.
import Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type CliResult, type Coordinator } from "../../scripts/local-fleet.js";
import { MAX_MESSAGE_BYTES } from "../../shared/grpc/adapter.js";
import { withClient } from "../../coordinator/cli/kit.js";
import { listRunSummaries, readRun } from "../../coordinator/cli/run-reads.js";
import { formatRunSummary, summaryJudgement } from "../../coordinator/cli/format.js";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const CHECKS = 5;
const PRINTED = 1_100_000;

// `yes` repeats the check's own name, so every check's output is its own.
const loud = (n: number) => `yes 'loud-${n} says this line again' | head -c ${PRINTED}; yes 'loud-${n} complains again' | head -c ${PRINTED} >&2`;
const SUITE = `suite: loud\nchecks:\n${Array.from({ length: CHECKS }, (_, i) => `  - id: loud-${i + 1}\n    command: { argv: [sh, -c, "${loud(i + 1)}"] }\n`).join("")}`;

const PLAN = fleetPlan("big-output", "loud.suite.yaml", 2);

describe("a run with more than 4 MiB of stored output", () => {
  const ws = new Workspace();
  let c: Coordinator;
  let run: CliResult;
  let runId = "";

  const cli = (...args: string[]) => coord(c, args);
  const signoffs = () => queryDb(c.stateDir, "SELECT run_id, signed_by FROM signoffs");
  /** Every stored check result's tails, by `iteration/check`. */
  const storedTails = () =>
    new Map(
      queryDb<{ iteration: number; check_id: string; stdout_tail: string; stderr_tail: string }>(
        c.stateDir,
        "SELECT t.iteration, c.check_id, c.stdout_tail, c.stderr_tail FROM check_results c JOIN tasks t ON t.id = c.task_id",
      ).map((r) => [`${r.iteration}/${r.check_id}`, [r.stdout_tail, r.stderr_tail]]),
    );

  beforeAll(async () => {
    ws.write("loud.suite.yaml", SUITE);
    ws.write("plan.yaml", PLAN);
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await cli("token", "create")).stdout.trim();
    ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "fleet" } }));
    await waitFor("agent online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
    run = await cli("run", "fleet", "--plan", ws.path("plan.yaml"));
    runId = queryDb<{ id: string }>(c.stateDir, "SELECT id FROM runs")[0]?.id ?? "";
  });

  afterAll(async () => ws.cleanup());

  it("stores every check's kept tails, more than 4 MiB in all", () => {
    const rows = queryDb<{ n: number; passed: number; total: number }>(
      c.stateDir,
      "SELECT COUNT(*) AS n, SUM(status = 'passed') AS passed, SUM(LENGTH(CAST(stdout_tail AS BLOB)) + LENGTH(CAST(stderr_tail AS BLOB))) AS total FROM check_results",
    );
    expect(rows[0]).toMatchObject({ n: 2 * CHECKS, passed: 2 * CHECKS });
    expect(rows[0]?.total).toBeGreaterThan(MAX_MESSAGE_BYTES);
    const tails = storedTails();
    for (let n = 1; n <= CHECKS; n++) {
      expect(tails.get(`2/loud-${n}`)?.[0]).toContain(`\nloud-${n} says this line again\n`);
      expect(tails.get(`2/loud-${n}`)?.[1]).toContain(`\nloud-${n} complains again\n`);
    }
  });

  it("coord run follows it to the end and prints its summary: passed, INCOMPLETE only for the loopback host", () => {
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stdout).toMatch(/fleet\s+node-a\s+\+\+ 2\/2\s+passed/);
    expect(run.stdout).toContain(`run ${runId} (big-output): PASSED\nverdict: INCOMPLETE\n  not valid for sign-off: node node-a runs on the coordinator's own host\n`);
    expect(run.stderr).not.toMatch(/larger than max/);
  });

  it("coord show prints the summary, and --json the whole run with every kept tail exactly as stored", async () => {
    const shown = await cli("show", runId);
    expect(shown.exitCode, shown.stderr).toBe(2);
    expect(shown.stdout).toContain(`run ${runId} (big-output): PASSED\nverdict: INCOMPLETE`);
    const json = await cli("show", runId, "--json");
    expect(json.exitCode, json.stderr).toBe(2);
    const record = JSON.parse(json.stdout) as { runId: string; verdict: string; tasks: { iteration: number; checks: { checkId: string; stdoutTail: string; stderrTail: string }[] }[] };
    expect([record.runId, record.verdict]).toEqual([runId, "INCOMPLETE"]);
    const shownTails = new Map(record.tasks.flatMap((t) => t.checks.map((c) => [`${t.iteration}/${c.checkId}`, [c.stdoutTail, c.stderrTail]] as const)));
    expect(shownTails.size).toBe(2 * CHECKS);
    expect(shownTails).toEqual(storedTails());
  });

  // What each format shows of this passed run: JSON and CTRF keep a passed check's output tails
  // too; HTML summarises a node where everything passed in one line (issue 16: a fleet's page stays
  // small) and says where that output is; JUnit names each check (output only in a failure's
  // body); markdown names the run.
  it.each([
    ["md", "# Run "],
    ["json", "loud-5 complains again"],
    ["junit", 'name="loud-5"'],
    ["ctrf", "loud-5 complains again"],
    ["html", "5 checks × 2 iterations: all 10 results passed"],
  ])("coord report --format %s writes the report (it shows %j)", async (format, shown) => {
    const out = ws.path(`report.${format}`);
    const r = await cli("report", runId, "--format", format, "-o", out);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe(`${format} report of run ${runId} written to ${out}`);
    const text = readFileSync(out, "utf8");
    expect(text).toContain(shown);
    if (format === "json") expect((JSON.parse(text) as { verdict: { decision: string } }).verdict.decision).toBe("INCOMPLETE");
    const printed = await cli("report", runId, "--format", format);
    expect(printed.exitCode, printed.stderr).toBe(0);
    expect(printed.stdout.length).toBeGreaterThan(0);
  });

  // What coord run and coord watch read to print the status table and the verdict.
  it("GetRun without_output reads every check result without its tails, judged the same as the whole run", async () => {
    const flags = { coordinator: c.address, stateDir: c.stateDir };
    const [whole, light] = await withClient(flags, (client) => Promise.all([readRun(client, runId), readRun(client, runId, { withoutOutput: true })]));
    const results = (r: typeof whole) => r.tasks.flatMap((t) => t.checks.map((k) => ({ task: t.taskId, check: k.checkId, status: k.status, tails: k.stdoutTail.length + k.stderrTail.length })));
    expect(results(light)).toEqual(results(whole).map((r) => ({ ...r, tails: 0 })));
    expect(results(whole).every((r) => r.tails > 0)).toBe(true);
    expect(judgeRun(light)).toEqual(judgeRun(whole));
  });

  // What coord run reads at a run's end: the tasks, with the verdict of the watch's summary.
  it("GetRun without_checks gives every task and its status without a check result, and with the run's summary it prints the end the whole run does", async () => {
    const flags = { coordinator: c.address, stateDir: c.stateDir };
    const [whole, tasksOnly, summaries] = await withClient(flags, (client) => Promise.all([readRun(client, runId), readRun(client, runId, { withoutChecks: true }), listRunSummaries(client, { limit: 1 })]));
    const tasks = (r: typeof whole) => r.tasks.map((t) => [t.taskId, t.status, t.summary]);
    expect(tasks(tasksOnly)).toEqual(tasks(whole));
    expect(whole.tasks.map((t) => t.checks.length)).toEqual([CHECKS, CHECKS]);
    expect(tasksOnly.tasks.map((t) => t.checks.length)).toEqual([0, 0]);
    const judged = summaryJudgement(summaries[0]!);
    expect(judged?.decision).toBe("INCOMPLETE");
    expect(formatRunSummary(tasksOnly, judged)).toBe(formatRunSummary(whole));
  });

  it("coord watch of the finished run prints its summary at once", async () => {
    const w = await cli("watch", runId);
    expect(w.exitCode, w.stderr).toBe(2);
    expect(w.stdout).toContain(`run ${runId} (big-output): PASSED\nverdict: INCOMPLETE`);
    const json = await cli("watch", runId, "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ runId, status: "passed", verdict: "INCOMPLETE" });
  });

  it("coord runs lists it with the coordinator's verdict, and --json gives the verdict and reasons", async () => {
    const list = await cli("runs");
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout.split("\n")[1]).toMatch(new RegExp(`^${runId}\\s+big-output\\s+-\\s+fleet\\s+full\\s+full\\s+\\S+\\s+PASSED\\s+INCOMPLETE\\s+-$`));
    const json = await cli("runs", "--json");
    expect(JSON.parse(json.stdout)).toMatchObject([{ runId, verdict: "INCOMPLETE", reasons: ["not valid for sign-off: node node-a runs on the coordinator's own host"] }]);
  });

  it("coord diff reads both runs whole", async () => {
    const d = await cli("diff", runId, runId);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(d.stdout).toBe(`diff ${runId} -> ${runId} (plan big-output)\n\nno difference in check outcomes or node facts`);
  });

  it("coord signoff of the flagged run is refused and records nothing", async () => {
    const r = await cli("signoff", runId, "--by", "admin");
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/not valid for sign-off: node node-a runs on the coordinator's own host/);
    expect(signoffs()).toEqual([]);
    expect((await cli("known-good")).stdout).toBe("no signed-off runs; sign a GO run off with: coord signoff RUN");
  });

  it("coord signoff of the cleared run succeeds, says so, and coord known-good lists it", async () => {
    const db = new Database(join(c.stateDir, "coord.db"));
    db.prepare("UPDATE runs SET flags_json = '[]' WHERE id = ?").run(runId);
    db.close();
    const signed = await cli("signoff", runId, "--by", "admin");
    expect(signed.exitCode, signed.stderr).toBe(0);
    expect(signed.stdout).toMatch(new RegExp(`^run ${runId} \\(big-output\\) signed off by admin at \\d{4}-`));
    expect(signoffs()).toEqual([{ run_id: runId, signed_by: "admin" }]);

    const good = await cli("known-good", "big-output");
    expect(good.exitCode, good.stderr).toBe(0);
    expect(good.stdout.split("\n")[1]).toMatch(new RegExp(`^${runId} +big-output +[0-9a-f]{16} +admin +`));
    const shown = await cli("show", runId);
    expect(shown.exitCode, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("verdict: GO");
  });
});
