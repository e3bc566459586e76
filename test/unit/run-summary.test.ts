// What the coordinator answers with where a whole run would be too large for one message — run
// lists, the end of a watch, cancel, sign-off — proved on a stored run with 5.5 MB of output.
import { create, toBinary } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listedReasons, runSummary, SUMMARY_REASON_BYTES } from "../../coordinator/judgement/run-summary.js";
import { judgeStored, summarizeStored } from "../../coordinator/judgement/stored.js";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { signOff } from "../../coordinator/runs/sign-off.js";
import { recordAgentEvent } from "../../coordinator/store/agent-events.js";
import type { Db } from "../../coordinator/store/db.js";
import { loadRunRecord } from "../../coordinator/store/run-record.js";
import { finishRun, insertRun } from "../../coordinator/store/runs.js";
import { setTaskStatus } from "../../coordinator/store/tasks.js";
import { AgentEventSchema } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { RunRecordSchema, RunSummarySchema, type RunRecord, type RunSummary } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { MAX_MESSAGE_BYTES } from "../../shared/grpc/adapter.js";
import { Status } from "../../shared/model/status.js";
import { run, task } from "./judgement-runs.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const LOUD = "y".repeat(1_100_000);

let db: Db;
let seq = 1;

describe.each(STORE_ENGINES)("run summaries (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);

  beforeEach(async () => {
    db = await store.open();
  });

  afterEach(() => {
    db.close();
  });

  /** A finished full run of plan "release": fleet on n1, five checks each keeping 1.1 MB of stdout. */
  function storeLoudRun(id: string, last: Status): void {
    const taskId = `${id}/fleet/n1/1`;
    insertRun(
      db,
      { id, planName: "release", planPath: "gate.yaml", planYaml: "", suites: {}, stages: ["fleet"], flags: [], createdAt: 1_714_550_000_000 + seq, mode: "full", planRevision: "rev1", options: {}, nodes: [] },
      [{ id: taskId, stageId: "fleet", nodeName: "n1", iteration: 1, suitePath: "fleet.yaml", allowDestructive: false }],
    );
    setTaskStatus(db, taskId, Status.RUNNING, "");
    [1, 2, 3, 4, 5].forEach((n) => {
      const status = n === 5 ? last : Status.PASSED;
      const result = { checkId: `loud-${n}`, kind: "command", status, summary: status === Status.PASSED ? "exit 0" : "exit 1", stdoutTail: LOUD, stderrTail: `err ${n}` };
      const event = create(AgentEventSchema, { seq: BigInt(seq++), origin: { machineId: "m1" }, body: { case: "check", value: { taskId, result } } });
      expect(recordAgentEvent(db, "n1", "m1", event).kind).toBe("check");
    });
    setTaskStatus(db, taskId, last, last === Status.PASSED ? "" : "1 of 5 checks failed");
    finishRun(db, id, last);
  }

  describe("a run with more output than one message may carry", () => {
    it("is stored whole: its record is larger than the 4 MiB message limit", () => {
      storeLoudRun("r1", Status.PASSED);
      const { n } = db.prepare("SELECT SUM(LENGTH(stdout_tail)) AS n FROM check_results").get() as { n: number };
      expect(n).toBe(5 * LOUD.length);
      expect(toBinary(RunRecordSchema, loadRunRecord(db, "r1") as RunRecord).length).toBeGreaterThan(MAX_MESSAGE_BYTES);
    });

    it("loads without output for judging: every status and summary kept, no tail read", () => {
      storeLoudRun("r1", Status.FAILED);
      const run = loadRunRecord(db, "r1", { output: false });
      const checks = run?.tasks[0]?.checks ?? [];
      expect(checks.map((c) => [c.checkId, c.status, c.summary, c.stdoutTail, c.stderrTail])).toEqual([
        ["loud-1", Status.PASSED, "exit 0", "", ""],
        ["loud-2", Status.PASSED, "exit 0", "", ""],
        ["loud-3", Status.PASSED, "exit 0", "", ""],
        ["loud-4", Status.PASSED, "exit 0", "", ""],
        ["loud-5", Status.FAILED, "exit 1", "", ""],
      ]);
      expect(loadRunRecord(db, "r1")?.tasks[0]?.checks[4]?.stderrTail).toBe("err 5");
    });

    it("is summarized in well under a kilobyte, with the verdict and reasons judgeStored reaches on the whole run", () => {
      storeLoudRun("r1", Status.FAILED);
      const summary = summarizeStored(db, "r1");
      const { judgement } = judgeStored(db, "r1");
      expect(summary).toMatchObject({ runId: "r1", planName: "release", status: Status.FAILED, stages: ["fleet"], mode: "full", planRevision: "rev1" });
      expect([summary?.verdict, summary?.reasons]).toEqual([judgement.decision, judgement.reasons]);
      expect(summary?.verdict).toBe("NO-GO");
      expect(toBinary(RunSummarySchema, summary as RunSummary).length).toBeLessThan(1024);
    });

    it("is signed off with an answer of a few hundred bytes naming who signed and the verdict, and the sign-off is recorded", () => {
      storeLoudRun("r1", Status.PASSED);
      const signed = signOff(db, { runId: "r1", by: "alice", accept: [] }, 1_714_560_000_000);
      expect(signed).toMatchObject({ runId: "r1", verdict: "GO", signoff: { by: "alice", atMs: 1_714_560_000_000n } });
      expect(toBinary(RunSummarySchema, signed).length).toBeLessThan(1024);
      expect(db.prepare("SELECT run_id, signed_by FROM signoffs").all()).toEqual([{ run_id: "r1", signed_by: "alice" }]);
    });
  });

  describe("a run's summary", () => {
    it("lists every reason while they fit in the budget", () => {
      expect(listedReasons("r1", ["a", "b", "c"], 3)).toEqual(["a", "b", "c"]);
    });

    it("lists reasons up to the budget, then says how many more there are and where to see them", () => {
      expect(listedReasons("r1", ["aa", "bb", "cc", "dd"], 5)).toEqual(["aa", "bb", "… and 2 more reasons; every one: coord show r1"]);
    });

    it("stays small for a run where 50,000 tasks failed, naming the first of them", () => {
      const failed = Array.from({ length: 50_000 }, (_, i) => task("fleet", `node-${i}`, 1, Status.FAILED, [], { summary: "expected exit 0, saw 1" }));
      const big = run({ status: Status.FAILED, tasks: failed });
      const judgement = judgeRun(big);
      expect(judgement.reasons).toHaveLength(50_000);
      const summary = runSummary(big, judgement);
      expect(summary.verdict).toBe("NO-GO");
      expect(summary.reasons[0]).toBe("fleet on node-0 #1: failed (expected exit 0, saw 1)");
      expect(summary.reasons.at(-1)).toMatch(/^… and \d+ more reasons; every one: coord show r1$/);
      expect(toBinary(RunSummarySchema, summary).length).toBeLessThan(SUMMARY_REASON_BYTES + 4096);
    });
  });
});
