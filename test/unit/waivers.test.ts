import { describe, expect, it } from "vitest";
import { create, toJson } from "@bufbuild/protobuf";
import { AgentEventSchema } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { CheckResultSchema, NodeIdentitySchema, WaiverSchema, type CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { recordAgentEvent } from "../../coordinator/store/agent-events.js";
import { finishRun, insertRun } from "../../coordinator/store/runs.js";
import { loadRunRecord } from "../../coordinator/store/run-record.js";
import { setTaskStatus } from "../../coordinator/store/tasks.js";
import { SignOffSchema, type RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { ALL_STATUSES, Status, statusName } from "../../shared/model/status.js";
import { parseSuite } from "../../shared/model/suite.js";
import { applyWaiver, markExpired, parseWaivers, waiversFor, type Waiver } from "../../shared/model/waivers.js";
import { runSuite } from "../../agent/engine/run-suite.js";
import { checkExitCode, formatCheckLine } from "../../agent/cli/check-output.js";
import { renderJunit, renderTap } from "../../agent/cli/check-formats.js";
import { waiverWarnings } from "../../coordinator/cli/waiver-warnings.js";
import { parsePlan } from "../../shared/model/plan.js";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { usedWaivers } from "../../coordinator/judgement/waivers.js";
import { initialState, step } from "../../coordinator/sequencer/core.js";
import { markdownReport } from "../../coordinator/reports/markdown.js";
import { reportDocument } from "../../coordinator/reports/json.js";
import { junitReport } from "../../coordinator/reports/junit.js";
import { ctrfReport } from "../../coordinator/reports/ctrf.js";
import { htmlReport } from "../../coordinator/reports/html.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";
import { run, task } from "./judgement-runs.js";

const FILE = `# known problems, agreed with ops
- check: api
  role: fleet
  reason: upstream bug INC-7, fix in 2.4
  owner: alice
  expires: 2026-12-31
- check: disk
  node: n2
  reason: old disk, replaced next week
  owner: bob
  expires: "2026-01-15"
`;

/** The message a bad waivers file is refused with (file:line:col first). */
function refusal(text: string): string {
  try {
    parseWaivers(text, "w.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(FleetgateError);
    expect((err as FleetgateError).code).toBe("bad_input");
    return (err as Error).message;
  }
  throw new Error("the waivers file was accepted");
}

// Before the first waiver expires, after the second.
const NOW = Date.UTC(2026, 5, 1);

describe("parseWaivers", () => {
  it("reads check, selector, reason, owner and expiry, and remembers where each waiver was written", () => {
    const [api, disk] = parseWaivers(FILE, "w.yaml");
    expect(api).toMatchObject({ checkId: "api", node: "", role: "fleet", owner: "alice", expires: "2026-12-31", source: "w.yaml:2:3", expired: false });
    expect(Number(api?.expiresAtMs)).toBe(Date.UTC(2026, 11, 31));
    expect(disk).toMatchObject({ checkId: "disk", node: "n2", role: "", owner: "bob", expires: "2026-01-15", source: "w.yaml:7:3" });
  });

  it("refuses a waiver without an owner, naming file, line, column and field", () => {
    expect(refusal("- check: api\n  reason: flaky\n  expires: 2026-12-31\n")).toBe("w.yaml:1:3 [0].owner: required string is missing");
  });

  it("refuses an expiry that is no calendar date, or not a date at all", () => {
    expect(refusal("- check: api\n  reason: r\n  owner: o\n  expires: 2026-02-30\n")).toBe('w.yaml:4:12 [0].expires: expected a date like 2026-12-31');
    expect(refusal("- check: api\n  reason: r\n  owner: o\n  expires: next week\n")).toBe('w.yaml:4:12 [0].expires: expected a date like 2026-12-31');
    expect(refusal("- check: api\n  reason: r\n  owner: o\n  expires: 20261231\n")).toContain("w.yaml:4:12 [0].expires: expected a date like 2026-12-31 (quote it if YAML read something else)");
  });

  it("refuses a misspelt key, a waiver with both node and role, an empty reason and a second waiver for the same check and nodes", () => {
    expect(refusal("- check: api\n  reason: r\n  owner: o\n  expire: 2026-12-31\n")).toContain('w.yaml:4:3 [0].expire: unknown key "expire"');
    expect(refusal("- check: api\n  node: n1\n  role: fleet\n  reason: r\n  owner: o\n  expires: 2026-12-31\n")).toBe("w.yaml:3:9 [0].role: give node or role, not both (neither: every node)");
    expect(refusal('- check: api\n  reason: ""\n  owner: o\n  expires: 2026-12-31\n')).toBe('w.yaml:2:11 [0].reason: expected why the failure is accepted, got ""');
    const twice = "- {check: api, reason: r, owner: o, expires: 2026-12-31}\n- {check: api, reason: s, owner: p, expires: 2027-01-31}\n";
    expect(refusal(twice)).toBe("w.yaml:2:3 [1]: a second waiver for check api on every node (the first is [0]); keep one");
  });

  it("refuses a file that is not a list, and broken YAML, with a location", () => {
    expect(refusal("check: api\n")).toBe("w.yaml:1:1 (top level): expected a list of waivers (- check: …, reason: …, owner: …, expires: YYYY-MM-DD), got {\"check\":\"api\"}");
    expect(refusal("- check: [api\n")).toMatch(/^w\.yaml:\d+:\d+ yaml: /);
  });
});

describe("which waivers are in force", () => {
  it("holds a waiver until its expiry day begins (UTC), then ignores it", () => {
    const [api] = parseWaivers(FILE, "w.yaml") as [Waiver];
    expect(markExpired([api], Date.UTC(2026, 11, 30, 23, 59))[0]?.expired).toBe(false);
    expect(markExpired([api], Date.UTC(2026, 11, 31))[0]?.expired).toBe(true);
  });

  it("matches a node by name or by its role label, and every node when neither is given", () => {
    const all = markExpired(parseWaivers(`${FILE}- {check: load, reason: r, owner: o, expires: 2027-01-01}\n`, "w.yaml"), NOW);
    const ids = (node: string, role: string) => waiversFor(all, { node, role }).map((w) => w.checkId);
    expect(ids("n1", "fleet")).toEqual(["api", "load"]);
    expect(ids("n2", "primary")).toEqual(["load"]); // disk on n2 has expired
    expect(ids("n3", "primary")).toEqual(["load"]);
  });
});

const result = (status: Status, extra: { precondition?: boolean; checkId?: string } = {}, waived: { waiver?: Waiver; unwaivedStatus?: Status } = {}): CheckResult =>
  create(CheckResultSchema, { checkId: "api", kind: "command", status, summary: status === Status.FAILED ? "expected exit 0, saw 1" : "exit 0", ...extra, ...waived });

describe("applyWaiver", () => {
  const waivers = waiversFor(markExpired(parseWaivers(FILE, "w.yaml"), NOW), { node: "n1", role: "fleet" });

  it("reports a waived failure as waived, keeping that it failed and why", () => {
    const r = applyWaiver(result(Status.FAILED), waivers);
    expect(r.status).toBe(Status.WAIVED);
    expect(r.unwaivedStatus).toBe(Status.FAILED);
    expect(r.waiver?.owner).toBe("alice");
    expect(formatCheckLine(r)).toContain("WAIV  api");
    expect(formatCheckLine(r)).toContain("waived (failed: expected exit 0, saw 1)");
  });

  it("reports a waived check that passed as waived (passed), never as passed", () => {
    const r = applyWaiver(result(Status.PASSED), waivers);
    expect([r.status, r.unwaivedStatus]).toEqual([Status.WAIVED, Status.PASSED]);
  });

  it("covers only a judged gate check: every other status, and any precondition, is left as it is", () => {
    for (const s of ALL_STATUSES.filter((x) => x !== Status.PASSED && x !== Status.FAILED)) {
      expect(applyWaiver(result(s), waivers).status, statusName(s)).toBe(s);
    }
    expect(applyWaiver(result(Status.FAILED, { precondition: true }), waivers).status).toBe(Status.FAILED);
    expect(applyWaiver(result(Status.FAILED, { checkId: "other" }), waivers).status).toBe(Status.FAILED);
  });
});

const SUITE = `suite: node
preconditions:
  - id: ready
    command: { argv: ["\${vars.ready}"] }
checks:
  - id: api
    command: { argv: ["false"] }
  - id: health
    command: { argv: ["true"] }
`;

async function suiteTask(waivers: Waiver[], ready = "true", node = "n1") {
  const suite = parseSuite(SUITE.replace("${vars.ready}", ready), "node.suite.yaml");
  const outcome = await runSuite(suite, { allowDestructive: false, env: {}, waivers });
  return { outcome, task: task("fleet", node, 1, outcome.status, outcome.results, { summary: outcome.summary }) };
}

/** A finished full run of these tasks, with the waivers as stored (expiry judged at its start). */
function runOf(tasks: ReturnType<typeof task>[], waivers: Waiver[]): RunRecord {
  return run({ stages: ["fleet"], tasks, status: tasks.map((t) => t.status).includes(Status.FAILED) ? Status.FAILED : tasks[0]?.status, waivers });
}

describe("a run with waivers, through the agent's suite runner, the fold and the verdict", () => {
  const given = (atMs: number) => markExpired(parseWaivers(FILE, "w.yaml"), atMs);

  it("is GO with an active waiver on the one failing check, the task waived (not passed) and the waiver listed", async () => {
    const waivers = given(NOW);
    const { outcome, task: t } = await suiteTask(waiversFor(waivers, { node: "n1", role: "fleet" }));
    expect(outcome.status).toBe(Status.WAIVED);
    expect(outcome.summary).toBe("1/2 passed, 1 waived; api: expected exit 0, saw 1");
    expect(checkExitCode(outcome.status)).toBe(0);
    const j = judgeRun(runOf([t], waivers));
    expect(j.decision).toBe("GO");
    expect(j.reasons).toEqual([]);
    expect(j.waived).toHaveLength(1);
    expect(j.waived[0]).toMatch(/^api on fleet on n1 #1: waived \(failed: .+\); waiver by alice, expires 2026-12-31 \(w\.yaml:2:3\): upstream bug INC-7, fix in 2\.4$/);
    // The sign-off accepts exactly the waivers that covered a check.
    expect(usedWaivers(runOf([t], waivers)).map((w) => w.checkId)).toEqual(["api"]);
  });

  it("ignores an expired waiver with a warning: the check counts as it is, and the run is NO-GO", async () => {
    const waivers = given(Date.UTC(2027, 0, 1));
    const inForce = waiversFor(waivers, { node: "n1", role: "fleet" });
    expect(inForce).toEqual([]);
    const { outcome, task: t } = await suiteTask(inForce);
    expect(outcome.status).toBe(Status.FAILED);
    expect(checkExitCode(outcome.status)).toBe(1);
    const j = judgeRun(runOf([t], waivers));
    expect(j.decision).toBe("NO-GO");
    expect(j.waived).toEqual([]);
    expect(j.expiredWaivers).toEqual([
      "waiver for api on role fleet (w.yaml:2:3, owner alice) expired 2026-12-31: ignored, the check counts as it is",
      "waiver for disk on node n2 (w.yaml:7:3, owner bob) expired 2026-01-15: ignored, the check counts as it is",
    ]);
  });

  it("never turns a node that is not ready into GO, even with a waiver for every check", async () => {
    const waivers = markExpired(parseWaivers("- {check: api, reason: r, owner: o, expires: 2099-01-01}\n- {check: ready, reason: r, owner: o, expires: 2099-01-01}\n", "w.yaml"), NOW);
    const { outcome, task: t } = await suiteTask(waiversFor(waivers, { node: "n1", role: "" }), "false");
    expect(outcome.status).toBe(Status.NOT_READY);
    expect(outcome.results.map((r) => statusName(r.status))).toEqual(["not_ready"]);
    expect(checkExitCode(outcome.status)).toBe(2);
    expect(judgeRun(runOf([t], waivers)).decision).toBe("INCOMPLETE");
  });

  it("never turns a lost, errored or interrupted node into GO beside a waived one", async () => {
    const waivers = given(NOW);
    const { task: waived } = await suiteTask(waiversFor(waivers, { node: "n1", role: "fleet" }));
    for (const s of [Status.LOST, Status.ERROR, Status.INTERRUPTED, Status.NOT_READY, Status.CANCELLED]) {
      const other = task("fleet", "n2", 1, s, [], { summary: statusName(s) });
      const j = judgeRun(runOf([waived, other], waivers));
      expect(j.decision, statusName(s)).toBe("INCOMPLETE");
      expect(j.reasons, statusName(s)).toEqual([`fleet on n2 #1: ${statusName(s)} (${statusName(s)})`]);
      expect(j.waived, statusName(s)).toHaveLength(1);
    }
  });

  it("is NO-GO when a check nobody waived fails beside a waived one", async () => {
    const waivers = given(NOW);
    const { task: waived } = await suiteTask(waiversFor(waivers, { node: "n1", role: "fleet" }));
    // n3 is not in role fleet: the waiver does not cover it there.
    const { task: failed } = await suiteTask(waiversFor(waivers, { node: "n3", role: "primary" }), "true", "n3");
    expect(failed.status).toBe(Status.FAILED);
    expect(judgeRun(runOf([waived, failed], waivers)).decision).toBe("NO-GO");
  });

  it("lets the next stage run after a waived stage, as after a passed one", () => {
    const stages = [{ id: "fleet", parallel: 1, stopOnFailure: false }, { id: "cross", parallel: 1, stopOnFailure: false }];
    const tasks = [
      { id: "t1", stageId: "fleet", node: "n1", iteration: 1, group: 0, label: "fleet #1 (n1)" },
      { id: "t2", stageId: "cross", node: "n1", iteration: 1, group: 0, label: "cross #1 (n1)" },
    ];
    let s = step(initialState(stages, tasks), { type: "start" }).state;
    const next = step(s, { type: "task_done", taskId: "t1", status: Status.WAIVED, summary: "1 waived" });
    expect(next.commands).toContainEqual({ type: "dispatch", taskId: "t2" });
    s = step(next.state, { type: "task_done", taskId: "t2", status: Status.PASSED, summary: "" }).state;
    expect(s.finished).toBe(true);
  });
});

describe("reports of a run with waivers", () => {
  async function waivedRun(): Promise<RunRecord> {
    const waivers = given(NOW);
    const { task: t } = await suiteTask(waiversFor(waivers, { node: "n1", role: "fleet" }));
    const r = runOf([t], waivers);
    r.status = Status.WAIVED;
    r.signoff = create(SignOffSchema, { by: "carol", atMs: 1_714_551_100_000n, waivers: usedWaivers(r) });
    return r;
  }
  const given = (atMs: number) => markExpired(parseWaivers(FILE, "w.yaml"), atMs);

  it("lists each waived check and each expired waiver in Markdown, and the waivers the sign-off accepted", async () => {
    const r = await waivedRun();
    const md = markdownReport(r, judgeRun(r));
    expect(md).toContain("**Verdict: GO**");
    expect(md).toContain("**Waived: 1 check result** (see Waivers)");
    expect(md).toMatch(/\| fleet \| n1 \| 1 \| api \| failed \| .+ \| alice \| 2026-12-31 \| upstream bug INC-7, fix in 2\.4 \| w\.yaml:2:3 \|/);
    expect(md).toContain("- waiver for disk on node n2 (w.yaml:7:3, owner bob) expired 2026-01-15: ignored, the check counts as it is");
    expect(md).toContain("Waivers in force when signed off:");
    expect(md).toContain("- `api` on role fleet: upstream bug INC-7, fix in 2.4 (owner alice, expires 2026-12-31, w.yaml:2:3)");
    expect(md).not.toContain("## Checks that did not pass");
  });

  it("carries the waiver and what the check came to in JSON, JUnit, CTRF and HTML", async () => {
    const r = await waivedRun();
    const j = judgeRun(r);
    const doc = JSON.stringify(reportDocument(r, j));
    expect(doc).toContain('"status":"waived","summary"');
    expect(doc).toContain('"unwaivedStatus":"failed","waiver":{"check":"api","selector":"role fleet","owner":"alice"');
    expect(doc).toContain('"expiredWaivers":["waiver for disk on node n2');
    const xml = junitReport(r, j);
    expect(xml).toMatch(/<testcase[^>]*name="api"[^>]*>\s*<skipped message="waived \(failed: [^"]+\); waiver by alice, expires 2026-12-31 \(w\.yaml:2:3\): upstream bug INC-7, fix in 2\.4"/);
    const ctrf = JSON.parse(ctrfReport(r, j)) as { results: { tests: { name: string; status: string; rawStatus: string; message?: string; extra: Record<string, unknown> }[] } };
    const api = ctrf.results.tests.find((t) => t.name.endsWith(": api"));
    expect(api).toMatchObject({ status: "other", rawStatus: "waived", extra: { unwaivedStatus: "failed", waiver: { owner: "alice", expires: "2026-12-31" } } });
    expect(api?.message).toMatch(/^waived \(failed: /);
    const html = htmlReport(r, j);
    expect(html).toContain('id="waived"');
    expect(html).toContain('id="expired-waivers"');
    expect(html).toContain("waiver by alice, expires 2026-12-31");
  });
});

describe("fleetgate-agent check's TAP and JUnit with a waiver", () => {
  it("writes a waived failure as a TAP TODO (a known failure) and a JUnit skip naming the waiver, with the verdict green as the exit code", async () => {
    const waivers = waiversFor(markExpired(parseWaivers(FILE, "w.yaml"), NOW), { node: "n1", role: "fleet" });
    const { outcome } = await suiteTask(waivers);
    const tap = renderTap([outcome]);
    expect(tap).toMatch(/^not ok 2 - api # TODO waived \(failed: expected exit 0, saw 1\); waiver by alice, expires 2026-12-31 \(w\.yaml:2:3\): upstream bug INC-7, fix in 2\.4$/m);
    expect(tap).toMatch(/^ok 3 - health$/m);
    const xml = renderJunit("node", [outcome], "h1");
    expect(xml).toMatch(/<testcase[^>]*name="api"[^>]*>\s*<skipped message="waived \(failed: expected exit 0, saw 1\); waiver by alice/);
    expect(xml).not.toMatch(/<failure/);
    // Without the waiver the same run fails in both.
    const { outcome: bare } = await suiteTask([]);
    expect(renderTap([bare])).toMatch(/^not ok 2 - api$/m);
    expect(renderJunit("node", [bare], "h1")).toMatch(/<failure/);
  });
});

describe("coord run's warnings about a waivers file", () => {
  it("warns of an expired waiver, one naming no check of the plan, and one naming a precondition, and of nothing else", () => {
    const plan = parsePlan("plan: p\nstages:\n  - { id: fleet, kind: fleet, suite: node.suite.yaml, nodes: { role: fleet } }\n", "plan.yaml");
    const suite = parseSuite(SUITE.replace("${vars.ready}", "true"), "node.suite.yaml");
    const waivers = parseWaivers("- {check: api, reason: r, owner: o, expires: 2099-01-01}\n- {check: apii, reason: r, owner: o, expires: 2099-01-01}\n- {check: ready, reason: r, owner: o, expires: 2099-01-01}\n- {check: health, reason: r, owner: o, expires: 2020-01-01}\n", "w.yaml");
    expect(waiverWarnings(waivers, plan, [suite], NOW)).toEqual([
      "waiver for apii (w.yaml:2:3): plan plan.yaml has no check apii; it waives nothing",
      "waiver for ready (w.yaml:3:3) names a precondition: preconditions are never waived (a node that is not ready cannot be judged); it waives nothing",
      "waiver for health on every node (w.yaml:4:3, owner o) expired 2020-01-01: ignored, the check counts as it is",
    ]);
  });
});

describe.each(STORE_ENGINES)("the coordinator takes a waived result only when the run waived it (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);

  it("stores a waived result the run's waiver covers, and a forged one as an error that makes the run unsignable", async () => {
    const db = await store.open();
    const waivers = markExpired(parseWaivers(FILE, "w.yaml"), NOW);
    const node = create(NodeIdentitySchema, { name: "n1", machineId: "m1", labels: { role: "fleet" } });
    insertRun(
      db,
      { id: "r1", planName: "p", planPath: "plan.yaml", planYaml: "", suites: {}, stages: ["fleet"], flags: [], createdAt: NOW, mode: "full", planRevision: "rev", options: { waivers: waivers.map((w) => toJson(WaiverSchema, w)) }, nodes: [node] },
      [{ id: "t1", stageId: "fleet", nodeName: "n1", iteration: 1, suitePath: "s.yaml", allowDestructive: false }],
    );
    setTaskStatus(db, "t1", Status.RUNNING, "", NOW);
    const send = (seq: number, result: CheckResult) => recordAgentEvent(db, "n1", "m1", create(AgentEventSchema, { seq: BigInt(seq), origin: { machineId: "m1" }, body: { case: "check", value: { taskId: "t1", result } } }));
    const api = waivers.find((w) => w.checkId === "api") as Waiver;
    send(1, result(Status.WAIVED, {}, { waiver: api, unwaivedStatus: Status.FAILED }));
    // health has no waiver in this run; disk's waiver is for n2 and expired.
    send(2, result(Status.WAIVED, { checkId: "health" }, { waiver: api, unwaivedStatus: Status.FAILED }));
    // A waiver never covers an error underneath, whatever the agent says.
    send(3, result(Status.WAIVED, { checkId: "api2" }, { waiver: api, unwaivedStatus: Status.ERROR }));
    const rows = db.prepare("SELECT check_id, status FROM check_results ORDER BY rowid").all();
    expect(rows).toEqual([
      { check_id: "api", status: "waived" },
      { check_id: "health", status: "error" },
      { check_id: "api2", status: "error" },
    ]);
    setTaskStatus(db, "t1", Status.WAIVED, "agent says waived", NOW);
    finishRun(db, "r1", Status.WAIVED, NOW);
    const j = judgeRun(loadRunRecord(db, "r1") as RunRecord);
    expect(j.decision).toBe("INCOMPLETE");
    expect(j.reasons).toContain("not valid for sign-off: node n1 reported check health waived (failed), but no waiver of run r1 in force on it covers that result");
  });
});
