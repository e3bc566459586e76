import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { formatCancelled, formatNodes, formatRunList, formatRunSummary, runOutcome, summaryJudgement, verdictExitCode } from "../../coordinator/cli/format.js";
import { NodeInfoSchema, SignOffSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { runSummary } from "../../coordinator/judgement/run-summary.js";
import { Status, statusName } from "../../shared/model/status.js";
import { gateRun, narrowedSignedOff, sampleRun } from "./run-report.fixture.js";

describe("verdictExitCode", () => {
  it("exits 0 for GO, 1 for NO-GO and 2 for INCOMPLETE, as DESIGN.md says coord run does", () => {
    expect(verdictExitCode("GO")).toBe(0);
    expect(verdictExitCode("NO-GO")).toBe(1);
    expect(verdictExitCode("INCOMPLETE")).toBe(2);
  });

  it.each([Status.NOT_READY, Status.LOST, Status.SKIPPED, Status.ERROR, Status.CANCELLED].map((s) => ({ s, name: statusName(s) })))(
    "reads a $name run as INCOMPLETE",
    ({ s }) => expect(runOutcome(s)).toBe("INCOMPLETE"),
  );
});

describe("formatNodes", () => {
  const node = (name: string, online: boolean, health?: { degraded?: string; warnings?: string[] }) =>
    create(NodeInfoSchema, { identity: { name, machineId: "0123456789abcdef0123456789abcdef", hostname: name, labels: { role: "fleet" } }, online, lastSeenMs: 0n, health });

  it("shows a connected node that cannot record results as degraded, with why, and what its agent repaired", () => {
    const degraded = "spool unwritable: EROFS: read-only file system, open '/var/lib/fleetgate-agent/spool/seg-000000000001.log'; the node cannot record results";
    const repaired = "spool: /var/lib/fleetgate-agent/spool/seg-000000000003.log: torn record at offset 4096 (100 bytes to the end of the file: a write cut short by a crash) dropped; the records before it are kept";
    const lines = formatNodes([node("a", true, { degraded }), node("b", true, { warnings: [repaired] }), node("c", true)], 0).split("\n");
    expect(lines[1]).toMatch(new RegExp(`^a\\s+fleet\\s+degraded\\s+now\\s+.*  degraded: ${degraded.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
    expect(lines[2]).toMatch(/^b\s+fleet\s+online\s+now\s/);
    expect(lines[2]?.endsWith(`  ${repaired}`)).toBe(true);
    expect(lines[3]).toMatch(/^c\s+fleet\s+online\s+now\s.*\s-$/);
  });

  it("shows each agent's version and flags one older than the coordinator outdated", () => {
    const versioned = (name: string, agentVersion: string, outdated: boolean) =>
      create(NodeInfoSchema, { identity: { name, machineId: "0123456789abcdef0123456789abcdef", hostname: name, labels: { role: "fleet" }, agentVersion }, online: true, outdated });
    const lines = formatNodes([versioned("a", "0.1.0", true), versioned("b", "0.2.0+g1a2b3c4", false), versioned("c", "", false)], 0, "tls", "0.2.0").split("\n");
    expect(lines[0]).toMatch(/^NAME\s+ROLE\s+STATUS\s+LAST SEEN\s+VERSION\s+MACHINE-ID/);
    expect(lines[1]).toMatch(/^a\s+fleet\s+online\s+now\s+0\.1\.0\s.*\soutdated \(coordinator 0\.2\.0\)$/);
    expect(lines[2]).toMatch(/^b\s+fleet\s+online\s+now\s+0\.2\.0\+g1a2b3c4\s.*\s-$/);
    expect(lines[3]).toMatch(/^c\s+fleet\s+online\s+now\s+\?\s.*\s-$/);
  });

  it("shows an offline node as offline whatever its agent last said", () => {
    const [, row] = formatNodes([node("a", false, { degraded: "spool unwritable" })], 60_000).split("\n");
    expect(row).toMatch(/^a\s+fleet\s+offline\s+1 min ago\s.*\s-$/);
  });
});

describe("formatRunSummary", () => {
  it("shows the table, every skip, the outcome, the verdict with each reason, then how to get the report", () => {
    const run = sampleRun({ attestationFlags: ["nodes n2, n3 share machine-id 1f2e3d4c", "agent prim runs on the coordinator host"] });
    const judgement = judgeRun(run);
    expect(judgement.decision).toBe("NO-GO");
    expect(formatRunSummary(run)).toBe(
      [
        "STAGE  NODE  ITERATIONS  STATUS     DETAIL",
        "smoke  prim  ++ 2/2      passed",
        "fleet  n1    +x 1/2      failed     1 of 2 checks failed",
        "fleet  n2    n 0/1       not_ready  precondition synced: node not ready",
        "fleet  n3    L 0/1       lost       node n3 lost: not connected for 5 min",
        "after  prim  s 0/1       skipped    stage fleet did not pass (failed)",
        "",
        "skipped (a skip is never a pass):",
        "  after: stage fleet did not pass (failed) (gate)",
        "",
        "run r1 (release): FAILED",
        "verdict: NO-GO",
        ...judgement.reasons.map((r) => `  ${r}`),
        "scope: full",
        "report: coord report r1 --format md",
      ].join("\n"),
    );
    // The reasons name the failure and every attestation flag (the verdict module words them).
    expect(judgement.reasons).toContain("fleet on n1 #2: failed (1 of 2 checks failed)");
    expect(judgement.reasons).toContain("not valid for sign-off: agent prim runs on the coordinator host");
  });

  it("says GO with no reason and no skip section when everything passed in full mode with clean attestation", () => {
    const run = sampleRun({ status: Status.PASSED, attestationFlags: [] });
    run.tasks = run.tasks.filter((t) => t.status === Status.PASSED);
    const lines = formatRunSummary(run).split("\n");
    expect(lines.slice(-4)).toEqual(["run r1 (release): PASSED", "verdict: GO", "scope: full", "report: coord report r1 --format md"]);
    expect(lines).not.toContain("skipped (a skip is never a pass):");
  });

  it("lists every skip decided before the run with its source, and marks those accepted at sign-off", () => {
    const run = gateRun({ signoff: create(SignOffSchema, { by: "ana", atMs: 1n, accepted: [{ target: "matrix/kvm", reason: "no KVM host this week", source: "sign-off" }] }) });
    const text = formatRunSummary(run);
    expect(text).toContain("  matrix/kvm: nested KVM disabled on the only matching host (--skip; accepted at sign-off by ana)");
    expect(text).toContain("  matrix/e2e: opt-in leg not asked for with --with (opt-in)");
  });

  it("says a narrowed scope after the verdict's reasons, with each override accepted at sign-off and by whom", () => {
    const run = narrowedSignedOff(gateRun());
    const text = formatRunSummary(run);
    const reasons = judgeRun(run).reasons.map((r) => `  ${r}`).join("\n");
    expect(text).toContain(
      `${reasons}\nscope: narrowed — iterations 1 of 2 on fleet; node subset: node-b of node-a, node-b on fleet\n  accepted at sign-off by ana: iterations — the second iteration ran in yesterday's run\nreport: coord report g1 --format md`,
    );
  });

  it("notes a quick run in the outcome line and gives it as a reason, so a green quick run is never GO", () => {
    const run = sampleRun({ status: Status.PASSED, attestationFlags: [] });
    run.tasks = run.tasks.filter((t) => t.status === Status.PASSED);
    run.mode = "quick";
    const text = formatRunSummary(run);
    expect(text).toContain("run r1 (release, quick mode): PASSED");
    expect(text).toContain("verdict: INCOMPLETE\n  quick run: checks tagged quick only; never signable");
  });

  it("says a run still going is INCOMPLETE because it has not finished", () => {
    const run = sampleRun({ status: Status.RUNNING, attestationFlags: [] });
    run.tasks = run.tasks.slice(0, 2);
    run.tasks[1]!.status = Status.RUNNING;
    expect(formatRunSummary(run)).toContain("run r1 (release): RUNNING\nverdict: INCOMPLETE\n  run has not finished");
  });
});

describe("summaryJudgement", () => {
  it("prints from the tasks alone and the run's summary the same end as from the whole run judged here", () => {
    const run = sampleRun({ attestationFlags: ["agent prim runs on the coordinator host"] });
    const summary = runSummary(run, judgeRun(run));
    const tasksOnly = { ...run, tasks: run.tasks.map((t) => ({ ...t, checks: [] })) };
    const judged = summaryJudgement(summary);
    expect(judged?.decision).toBe("NO-GO");
    expect(formatRunSummary(tasksOnly, judged)).toBe(formatRunSummary(run));
  });

  it("gives nothing from a summary without a verdict (a coordinator from before the field): the run is then judged whole", () => {
    const run = sampleRun();
    const summary = runSummary(run, judgeRun(run));
    summary.verdict = "";
    expect(summaryJudgement(summary)).toBeUndefined();
    summary.verdict = "MAYBE";
    expect(summaryJudgement(summary)).toBeUndefined();
  });
});

describe("formatCancelled", () => {
  it("names every task the cancel stopped, with where it was", () => {
    const run = gateRun();
    const cancelled = run.tasks.filter((t) => t.status === Status.CANCELLED);
    const text = formatCancelled({ run: runSummary(run, judgeRun(run)), cancelled, cancelledCount: cancelled.length, taskCount: run.tasks.length }, "g1");
    expect(text.split("\n")).toEqual(["run g1 (release) cancelled: 1 of 12 tasks will not run", "  matrix/billing on node-b: cancelled: run cancelled by ops"]);
  });

  it("counts the cancelled tasks the coordinator did not list, and says where to see them", () => {
    const run = gateRun();
    const cancelled = run.tasks.filter((t) => t.status === Status.CANCELLED);
    const text = formatCancelled({ run: runSummary(run, judgeRun(run)), cancelled, cancelledCount: 250, taskCount: 400 }, "g1");
    expect(text.split("\n")).toEqual([
      "run g1 (release) cancelled: 250 of 400 tasks will not run",
      "  matrix/billing on node-b: cancelled: run cancelled by ops",
      "  … and 249 more: coord show g1",
    ]);
  });
});

describe("formatRunList", () => {
  it("lists each run with its mode, scope, outcome, verdict and who signed it off", () => {
    const failed = sampleRun();
    const quick = sampleRun({ status: Status.PASSED, attestationFlags: [] });
    quick.runId = "r2";
    quick.mode = "quick";
    quick.tasks = quick.tasks.filter((t) => t.status === Status.PASSED);
    const signed = sampleRun({ status: Status.PASSED, attestationFlags: [] });
    signed.runId = "r3";
    signed.tasks = signed.tasks.filter((t) => t.status === Status.PASSED);
    signed.signoff = create(SignOffSchema, { by: "ana", atMs: 1n });
    const narrowed = narrowedSignedOff(sampleRun());
    narrowed.runId = "r4";
    const lines = formatRunList([failed, quick, signed, narrowed].map((r) => runSummary(r, judgeRun(r)))).split("\n");
    expect(lines[0]).toMatch(/^RUN\s+PLAN\s+SCHEDULE\s+STAGES\s+MODE\s+SCOPE\s+STARTED\s+RESULT\s+VERDICT\s+SIGNED OFF$/);
    expect(lines[1]).toMatch(/^r1 .* full\s+full .* FAILED\s+NO-GO\s+-$/);
    expect(lines[2]).toMatch(/^r2 .* quick\s+full .* PASSED\s+INCOMPLETE\s+-$/);
    expect(lines[3]).toMatch(/^r3 .* full\s+full .* PASSED\s+GO\s+ana$/);
    expect(lines[4]).toMatch(/^r4 .* full\s+narrowed:iterations,nodes .* FAILED\s+NO-GO\s+ana$/);
  });
});
