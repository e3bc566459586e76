// A run's history is read for flakes as its check outcomes only (store/check-outcomes.ts), not as
// whole records (issue 16: every run of a plan made the next one's end slower). The flakes, and so
// the verdict, must be exactly those the whole records give: proved on stored runs, both engines.
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findFlakes } from "../../coordinator/judgement/flakes.js";
import { loadHistory, summarizeStored } from "../../coordinator/judgement/stored.js";
import { recordAgentEvent } from "../../coordinator/store/agent-events.js";
import { loadCheckOutcomes } from "../../coordinator/store/check-outcomes.js";
import type { Db } from "../../coordinator/store/db.js";
import { loadRunRecord } from "../../coordinator/store/run-record.js";
import { finishRun, getRun, insertRun } from "../../coordinator/store/runs.js";
import { setTaskStatus } from "../../coordinator/store/tasks.js";
import { AgentEventSchema } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status } from "../../shared/model/status.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const { PASSED, FAILED, SKIPPED } = Status;

interface StoredCheck {
  id: string;
  status: Status;
  precondition?: boolean;
}

describe.each(STORE_ENGINES)("flakes over a plan's history (%s)", (engine) => {
  const store = storeOf(engine);
  let db: Db;
  let seq = 1;
  let clock = 1_714_550_000_000;

  beforeEach(async () => {
    db = await store.open();
  });
  afterEach(() => db.close());

  /** A finished run of plan "release": a fleet task on each of n1 and n2 and a cross step on n1. */
  function storeRun(id: string, outcomes: { n1: StoredCheck[]; n2: StoredCheck[]; step: StoredCheck[] }, o: { mode?: "full" | "quick"; revision?: string; finish?: boolean } = {}): void {
    const tasks = [
      { id: `${id}/fleet/n1/1`, stageId: "fleet", nodeName: "n1", checks: outcomes.n1 },
      { id: `${id}/fleet/n2/1`, stageId: "fleet", nodeName: "n2", checks: outcomes.n2 },
      { id: `${id}/cross/s1/n1`, stageId: "cross", stepId: "s1", stageKind: "cross", nodeName: "n1", checks: outcomes.step },
    ];
    insertRun(
      db,
      { id, planName: "release", planPath: "gate.yaml", planYaml: "", suites: {}, stages: ["fleet", "cross"], flags: [], createdAt: clock++, mode: o.mode ?? "full", planRevision: o.revision ?? "rev1", options: {}, nodes: [] },
      tasks.map((t) => ({ id: t.id, stageId: t.stageId, stepId: t.stepId, stageKind: t.stageKind, nodeName: t.nodeName, iteration: 1, suitePath: "s.yaml", allowDestructive: false })),
    );
    for (const t of tasks) {
      setTaskStatus(db, t.id, Status.RUNNING, "");
      for (const c of t.checks) {
        const result = { checkId: c.id, kind: "command", status: c.status, precondition: c.precondition ?? false, summary: Status[c.status], stdoutTail: "out" };
        const event = create(AgentEventSchema, { seq: BigInt(seq++), origin: { machineId: t.nodeName }, body: { case: "check", value: { taskId: t.id, result } } });
        expect(recordAgentEvent(db, t.nodeName, t.nodeName, event).kind).toBe("check");
      }
      setTaskStatus(db, t.id, t.checks.some((c) => c.status === FAILED) ? FAILED : PASSED, "");
    }
    if (o.finish !== false) finishRun(db, id, PASSED);
  }

  const pass = (id: string): StoredCheck => ({ id, status: PASSED });
  const fail = (id: string): StoredCheck => ({ id, status: FAILED });

  function storeHistory(): void {
    storeRun("r1", { n1: [pass("http"), pass("disk")], n2: [fail("http")], step: [pass("ping")] });
    storeRun("r2", { n1: [fail("http"), { id: "ready", status: FAILED, precondition: true }], n2: [pass("http")], step: [fail("ping")] });
    storeRun("q1", { n1: [fail("disk")], n2: [], step: [] }, { mode: "quick" });
    storeRun("o1", { n1: [fail("disk")], n2: [], step: [] }, { revision: "rev0" });
    storeRun("r3", { n1: [pass("http"), { id: "disk", status: SKIPPED }, { id: "ready", status: PASSED, precondition: true }], n2: [pass("http")], step: [pass("ping")] });
  }

  it("reads each check's outcome as the whole record has it, tasks in plan order", () => {
    storeHistory();
    const whole = loadRunRecord(db, "r2", { output: false }) as RunRecord;
    const outcomes = loadCheckOutcomes(db, getRun(db, "r2")!);
    expect(outcomes).toEqual({
      runId: "r2",
      planRevision: "rev1",
      mode: "full",
      tasks: whole.tasks.map((t) => ({ stageId: t.stageId, stepId: t.stepId, nodeName: t.nodeName, checks: t.checks.map((c) => ({ checkId: c.checkId, status: c.status, precondition: c.precondition })) })),
    });
    expect(outcomes.tasks.map((t) => `${t.stageId}/${t.stepId}/${t.nodeName}:${t.checks.length}`)).toEqual(["fleet//n1:2", "fleet//n2:1", "cross/s1/n1:1"]);
  });

  it("finds the same flakes from the outcomes as from the whole records, and only from comparable runs", () => {
    storeHistory();
    const run = loadRunRecord(db, "r3", { output: false }) as RunRecord;
    const history = loadHistory(db, run);
    expect(history.map((h) => h.runId)).toEqual(["r2", "r1"]);
    const fromRecords = findFlakes(run, history.map((h) => loadRunRecord(db, h.runId, { output: false }) as RunRecord));
    const fromOutcomes = findFlakes(run, history);
    expect(fromOutcomes).toEqual(fromRecords);
    expect(fromOutcomes.map((f) => `${f.stageId} ${f.node} ${f.checkId} ${f.passed}/${f.total}`)).toEqual(["cross/s1 n1 ping 2/3", "fleet n1 http 2/3", "fleet n2 http 2/3"]);
    // The summary the coordinator answers with judges the run by them: a flake is never GO.
    const summary = summarizeStored(db, "r3");
    expect(summary?.verdict).toBe("NO-GO");
    expect(summary?.reasons.join("\n")).toContain("flaky");
  });

  it("works a finished run's flakes out afresh while a run that would be its history is still going", () => {
    storeRun("r1", { n1: [pass("http")], n2: [], step: [] });
    // r2 started before r3 and is still going when r3 finishes: not r3's history yet.
    storeRun("r2", { n1: [fail("http")], n2: [], step: [] }, { finish: false });
    storeRun("r3", { n1: [pass("http")], n2: [], step: [] });
    expect(summarizeStored(db, "r3")?.verdict).toBe("GO");
    finishRun(db, "r2", FAILED);
    // Now it is, and http on n1 passed in r1 and r3 but failed in r2: judged again, r3 is not GO.
    const again = summarizeStored(db, "r3");
    expect(again?.verdict).toBe("NO-GO");
    expect(again?.reasons).toContain("http on n1 is flaky in fleet: passed 2 of 3");
    // From here its flakes are final and every judgement of it agrees.
    expect(summarizeStored(db, "r3")?.reasons).toEqual(again?.reasons);
  });
});
