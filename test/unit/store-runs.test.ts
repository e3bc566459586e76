import { create } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { openDb, type Db } from "../../coordinator/store/db.js";
import { MIGRATIONS } from "../../coordinator/store/migrations.js";
import { recordAgentEvent } from "../../coordinator/store/agent-events.js";
import { loadRunRecord } from "../../coordinator/store/run-record.js";
import { committedPrefix, highestCommittedSeq } from "../../coordinator/store/nodes.js";
import { addRunFlag, finishRun, getRun, insertRun, latestStageOutcome, listRuns, runAudit, runOrigin, runsOfOrigin, type NewRun, type NewTask } from "../../coordinator/store/runs.js";
import { insertSignoff } from "../../coordinator/store/signoffs.js";
import { capturesOf, setTaskStatus } from "../../coordinator/store/tasks.js";
import { AgentEventSchema, type AgentEvent } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { CheckResultSchema, OriginSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { Status } from "../../shared/model/status.js";
import { STORE_ENGINES, storeOf, type TestStore } from "../support/store-engines.js";

const N1_MACHINE = "1f2e3d4c5b6a79880011223344556677";
const N2_MACHINE = "aabbccddeeff00112233445566778899";

let db: Db;

function count(sql: string, ...params: unknown[]): number {
  return (db.prepare(sql).get(...params) as { n: number }).n;
}

const TASKS: NewTask[] = [
  { id: "run1/smoke/n1/1", stageId: "smoke", nodeName: "n1", iteration: 1, suitePath: "smoke.yaml", allowDestructive: false },
  { id: "run1/fleet/n2/1", stageId: "fleet", nodeName: "n2", iteration: 1, suitePath: "fleet.yaml", allowDestructive: true },
  { id: "run1/fleet/n1/1", stageId: "fleet", nodeName: "n1", iteration: 1, suitePath: "fleet.yaml", allowDestructive: true },
];

function seedRun(): void {
  insertRun(
    db,
    { id: "run1", planName: "release", planPath: "gate.yaml", planYaml: "plan: release\n", suites: {}, stages: ["smoke", "fleet"], flags: [], createdAt: 1_700_000_000_000, mode: "full", planRevision: "rev1", options: {}, nodes: [] },
    TASKS,
  );
}

function checkEvent(seq: number, taskId: string, checkId: string, opts: { machineId?: string; status?: Status; summary?: string; precondition?: boolean; startedAtMs?: number } = {}): AgentEvent {
  return create(AgentEventSchema, {
    seq: BigInt(seq),
    origin: { machineId: opts.machineId ?? N1_MACHINE, bootId: "boot-1", hostname: "n1.example" },
    body: {
      case: "check",
      value: {
        taskId,
        result: {
          checkId,
          kind: "command",
          status: opts.status ?? Status.PASSED,
          summary: opts.summary ?? "exit 0",
          precondition: opts.precondition ?? false,
          startedAtMs: BigInt(opts.startedAtMs ?? 1_700_000_001_000),
          durationMs: 12n,
          attempts: 1,
        },
      },
    },
  });
}

function doneEvent(seq: number, taskId: string, status: Status, machineId = N1_MACHINE): AgentEvent {
  return create(AgentEventSchema, { seq: BigInt(seq), origin: { machineId, bootId: "boot-1", hostname: "n1.example" }, body: { case: "taskDone", value: { taskId, status, summary: "1/1 checks passed" } } });
}

// SQLite only: the file and directory modes of coord.db; PostgreSQL keeps its own files.
describe("openDb", () => {
  it("keeps coord.db readable by its owner only (it holds token hashes and every result)", () => {
    const dir = mkdtempSync(join(tmpdir(), "fleetgate-store-"));
    try {
      openDb(join(dir, "state", "coord.db")).close();
      expect(statSync(join(dir, "state", "coord.db")).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, "state")).mode & 0o777).toBe(0o700);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The store's tables, from the engine's own catalogue. */
function tableNames(store: TestStore): string[] {
  const sql = store.engine === "sqlite" ? "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name" : "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY name";
  return (db.prepare(sql).all() as { name: string }[]).map((r) => r.name);
}

describe.each(STORE_ENGINES)("the store's runs (%s)", (engine) => {
  const store = storeOf(engine);
  beforeEach(async () => {
    db = await store.open();
  });

  describe("migrations", () => {
    it("applies each migration once and opens an existing store without re-applying or losing rows", () => {
      seedRun();
      const versions = () => (db.prepare("SELECT version FROM schema_migrations ORDER BY version").all() as { version: number }[]).map((r) => r.version);
      expect(versions()).toEqual(MIGRATIONS.map((m) => m.version));
      db.close();

      db = store.reopen();
      expect(versions()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(count("SELECT COUNT(*) AS n FROM tasks WHERE run_id = 'run1'")).toBe(3);
      const tables = tableNames(store);
      expect(tables).toEqual([
        "agent_events", "check_results", "coordinator_lease", "enroll_tokens", "known_good_facts", "node_claims", "node_events", "nodes", "person_tokens",
        "refusal_totals", "refusals", "rollouts", "run_audit", "run_files", "runs", "schedule_fires", "schema_migrations", "signoffs", "tasks",
      ]);
    });
  });

  describe("recordAgentEvent", () => {
    beforeEach(seedRun);

    it("applies a (node, seq) once: the resent event is a duplicate and no row is doubled", () => {
      const first = recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(1, "run1/smoke/n1/1", "echo"), 1000);
      expect(first.kind).toBe("check");
      // The resend carries a different summary: it must not overwrite what was committed.
      const again = recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(1, "run1/smoke/n1/1", "echo", { summary: "resent" }), 2000);
      expect(again).toEqual({ kind: "duplicate" });
      expect(count("SELECT COUNT(*) AS n FROM check_results")).toBe(1);
      expect(count("SELECT COUNT(*) AS n FROM agent_events WHERE node_name = 'n1' AND seq = 1")).toBe(1);
      expect(db.prepare("SELECT summary FROM check_results").get()).toEqual({ summary: "exit 0" });
    });

    it("tells a resend (same boot) from a fork: the same seq numbered under another boot is two machines", () => {
      recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(3, "run1/smoke/n1/1", "echo"));
      expect(recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(3, "run1/smoke/n1/1", "echo"))).toEqual({ kind: "duplicate" });
      const other = checkEvent(3, "run1/smoke/n1/1", "echo");
      other.origin = create(OriginSchema, { machineId: N1_MACHINE, bootId: "boot-2", hostname: "clone" });
      expect(recordAgentEvent(db, "n1", N1_MACHINE, other)).toEqual({ kind: "duplicate", forkedFrom: "boot-1" });
      expect(count("SELECT COUNT(*) AS n FROM check_results")).toBe(1);
    });

    it("recognises a repeated task_done as a duplicate", () => {
      expect(recordAgentEvent(db, "n1", N1_MACHINE, doneEvent(7, "run1/smoke/n1/1", Status.PASSED)).kind).toBe("task_done");
      expect(recordAgentEvent(db, "n1", N1_MACHINE, doneEvent(7, "run1/smoke/n1/1", Status.PASSED))).toEqual({ kind: "duplicate" });
    });

    it("reports a task's end without writing its status: the run engine is the one writer", () => {
      setTaskStatus(db, "run1/smoke/n1/1", Status.RUNNING, "", 500);
      expect(recordAgentEvent(db, "n1", N1_MACHINE, doneEvent(8, "run1/smoke/n1/1", Status.FAILED), 1000)).toMatchObject({ kind: "task_done", status: Status.FAILED });
      expect(db.prepare("SELECT status FROM tasks WHERE id = 'run1/smoke/n1/1'").get()).toEqual({ status: "running" });
    });

    it("keeps the same seq from two different nodes apart", () => {
      expect(recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(1, "run1/fleet/n1/1", "echo")).kind).toBe("check");
      expect(recordAgentEvent(db, "n2", N2_MACHINE, checkEvent(1, "run1/fleet/n2/1", "echo", { machineId: N2_MACHINE })).kind).toBe("check");
      expect(count("SELECT COUNT(*) AS n FROM check_results")).toBe(2);
    });

    it("rejects a result whose origin machine-id is not the node's, and stores no check", () => {
      const outcome = recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(2, "run1/smoke/n1/1", "echo", { machineId: N2_MACHINE }));
      expect(outcome).toEqual({ kind: "rejected", reason: `result for node n1 came from machine-id ${N2_MACHINE}, expected ${N1_MACHINE}`, flagsRun: "run1" });
      expect(count("SELECT COUNT(*) AS n FROM check_results")).toBe(0);
      // Acknowledged all the same, so the agent stops resending it.
      expect(recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(2, "run1/smoke/n1/1", "echo", { machineId: N2_MACHINE }))).toEqual({ kind: "duplicate" });
    });

    it("rejects a result with no origin at all", () => {
      const event = checkEvent(3, "run1/smoke/n1/1", "echo");
      event.origin = undefined;
      expect(recordAgentEvent(db, "n1", N1_MACHINE, event)).toMatchObject({ kind: "rejected", reason: `result for node n1 came from machine-id (none), expected ${N1_MACHINE}` });
      expect(count("SELECT COUNT(*) AS n FROM check_results")).toBe(0);
    });

    it("rejects an event for another node's task", () => {
      const outcome = recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(4, "run1/fleet/n2/1", "echo"));
      expect(outcome).toEqual({ kind: "rejected", reason: "node n1 reported for task run1/fleet/n2/1 of node n2" });
      expect(count("SELECT COUNT(*) AS n FROM check_results")).toBe(0);
    });

    it("rejects an event naming a task that does not exist", () => {
      expect(recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(5, "run9/x/n1/1", "echo"))).toEqual({ kind: "rejected", reason: "event 5 names unknown task run9/x/n1/1" });
    });

    it("rejects an event with no body, saying so", () => {
      const event = create(AgentEventSchema, { seq: 6n, origin: { machineId: N1_MACHINE } });
      expect(recordAgentEvent(db, "n1", N1_MACHINE, event)).toEqual({ kind: "rejected", reason: "event 6 has no body" });
    });

    it("answers stale to a check for a task already finished and keeps the result that finished it", () => {
      recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(1, "run1/smoke/n1/1", "echo", { status: Status.FAILED, summary: "expected exit 0, saw 1" }));
      setTaskStatus(db, "run1/smoke/n1/1", Status.FAILED, "1 failed");
      const late = recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(2, "run1/smoke/n1/1", "echo", { status: Status.PASSED, summary: "exit 0" }));
      expect(late.kind).toBe("stale");
      expect(db.prepare("SELECT status, summary FROM check_results WHERE task_id = ? AND check_id = 'echo'").all("run1/smoke/n1/1")).toEqual([{ status: "failed", summary: "expected exit 0, saw 1" }]);
    });
  });

  describe("what the agent may forget", () => {
    beforeEach(seedRun);

    it("is the unbroken prefix of committed seqs: a failed commit leaves a gap the agent resends, while numbering goes on above the highest", () => {
      expect([committedPrefix(db, "n1"), highestCommittedSeq(db, "n1")]).toEqual([0n, 0n]);
      for (const seq of [1, 2, 3, 5, 6]) recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(seq, "run1/smoke/n1/1", `c${seq}`));
      expect([committedPrefix(db, "n1"), highestCommittedSeq(db, "n1")]).toEqual([3n, 6n]);
      recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(4, "run1/smoke/n1/1", "c4"));
      expect(committedPrefix(db, "n1")).toBe(6n);
    });
  });

  describe("run flags", () => {
    beforeEach(seedRun);

    it("mark an unsigned run not valid for sign-off, and leave a signed-off run as it was signed", () => {
      addRunFlag(db, "run1", "node n1 sent a result from another host");
      expect(getRun(db, "run1")?.flags).toContain("node n1 sent a result from another host");
      insertSignoff(db, "run1", { by: "alice", at: 1, accepted: [], acceptedOverrides: [] });
      addRunFlag(db, "run1", "late flag");
      expect(getRun(db, "run1")?.flags).not.toContain("late flag");
    });

    it("keep what was learnt after sign-off in the run's audit trail, once, beside the signed verdict", () => {
      insertSignoff(db, "run1", { by: "alice", at: 1, accepted: [], acceptedOverrides: [] });
      addRunFlag(db, "run1", "node n1 is cloned: two boots", Date.UTC(2026, 0, 2));
      addRunFlag(db, "run1", "node n1 is cloned: two boots", Date.UTC(2026, 0, 3));
      expect(runAudit(db, "run1")).toEqual([{ at: Date.UTC(2026, 0, 2), what: "node n1 is cloned: two boots" }]);
      const record = loadRunRecord(db, "run1")!;
      expect(record.attestationFlags).toEqual([]);
      expect(record.afterSignoff).toEqual(["2026-01-02T00:00:00.000Z node n1 is cloned: two boots"]);
    });
  });

  describe("loadRunRecord", () => {
    beforeEach(seedRun);

    it("returns the tasks in plan order, each with its own checks, preconditions first", () => {
      recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(1, "run1/fleet/n1/1", "http", { startedAtMs: 5000 }));
      recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(2, "run1/fleet/n1/1", "synced", { precondition: true, startedAtMs: 6000 }));
      recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(3, "run1/smoke/n1/1", "echo", { status: Status.FAILED, summary: "expected exit 0, saw 1" }));
      setTaskStatus(db, "run1/smoke/n1/1", Status.FAILED, "1 failed", 1_700_000_002_000);

      const run = loadRunRecord(db, "run1");
      expect(run).toBeDefined();
      if (!run) return;
      expect(run).toMatchObject({ runId: "run1", planName: "release", planPath: "gate.yaml", status: Status.RUNNING, stages: ["smoke", "fleet"], startedAtMs: 1_700_000_000_000n });
      expect(run.tasks.map((t) => [t.taskId, t.status, t.checks.map((c) => c.checkId)])).toEqual([
        ["run1/smoke/n1/1", Status.FAILED, ["echo"]],
        ["run1/fleet/n2/1", Status.PENDING, []],
        ["run1/fleet/n1/1", Status.PENDING, ["synced", "http"]],
      ]);
      expect(run.tasks[0]).toMatchObject({ summary: "1 failed", finishedAtMs: 1_700_000_002_000n });
      expect(run.tasks[0]?.checks[0]).toMatchObject({ kind: "command", status: Status.FAILED, summary: "expected exit 0, saw 1", durationMs: 12n, attempts: 1 });
      expect(run.tasks[2]?.checks[0]?.precondition).toBe(true);
    });

    it("returns each check result as the agent reported it, every field, the same message create() makes", () => {
      const reported = create(CheckResultSchema, {
        checkId: "bats-smoke",
        kind: "bats",
        status: Status.FAILED,
        summary: "1 of 2 tests failed",
        reason: "",
        precondition: false,
        startedAtMs: 1_700_000_001_000n,
        durationMs: 2_500n,
        attempts: 2,
        stdoutTail: "not ok 2 serves — ünïcødé\n",
        stderrTail: "boom\n",
        hint: "read the app's log",
        cases: [{ name: "starts", status: Status.PASSED, durationMs: 5n }, { name: "serves", status: Status.FAILED, message: "503" }],
        attemptLog: [{ startedAtMs: 1_700_000_000_000n, durationMs: 900n, passed: false, summary: "first" }],
        captured: { height: "870000" },
        runAs: "nobody",
      });
      const event = checkEvent(1, "run1/fleet/n1/1", "bats-smoke");
      if (event.body.case === "check") event.body.value.result = reported;
      recordAgentEvent(db, "n1", N1_MACHINE, event);
      const loaded = loadRunRecord(db, "run1")?.tasks[2]?.checks[0];
      expect(loaded).toStrictEqual(reported);
      expect(Object.keys(loaded ?? {})).toEqual(Object.keys(reported));
      expect(loadRunRecord(db, "run1", { output: false })?.tasks[2]?.checks[0]).toStrictEqual({ ...reported, stdoutTail: "", stderrTail: "" });
    });

    it("leaves every check result out when asked (checks: false), tasks and their statuses as they are", () => {
      recordAgentEvent(db, "n1", N1_MACHINE, checkEvent(1, "run1/fleet/n1/1", "synced"));
      const whole = loadRunRecord(db, "run1");
      const tasksOnly = loadRunRecord(db, "run1", { checks: false });
      expect(whole?.tasks[2]?.checks.map((c) => c.checkId)).toEqual(["synced"]);
      expect(tasksOnly?.tasks.map((t) => t.checks.length)).toEqual([0, 0, 0]);
      expect(tasksOnly?.tasks.map((t) => ({ ...t, checks: [] }))).toEqual(whole?.tasks.map((t) => ({ ...t, checks: [] })));
    });

    it("returns undefined for a run that does not exist", () => {
      expect(loadRunRecord(db, "nope")).toBeUndefined();
    });
  });

  describe("run lookups", () => {
    const base: NewRun = { id: "", planName: "release", planPath: "gate.yaml", planYaml: "", suites: {}, stages: ["fleet"], flags: [], createdAt: 0, mode: "full", planRevision: "rev1", options: {}, nodes: [] };
    /** A run of `fleet` on n1 and n2, each task ending `statuses[i]` when given. */
    function addRun(id: string, createdAt: number, extra: Partial<NewRun> = {}, statuses: Status[] = []): void {
      const tasks: NewTask[] = ["n1", "n2"].map((node) => ({ id: `${id}/fleet/${node}/1`, stageId: "fleet", nodeName: node, iteration: 1, suitePath: "fleet.yaml", allowDestructive: false }));
      insertRun(db, { ...base, ...extra, id, createdAt }, tasks);
      statuses.forEach((status, i) => setTaskStatus(db, tasks[i]!.id, status, "", createdAt));
    }
    const ids = (runs: { id: string }[]) => runs.map((r) => r.id);

    it("lists runs newest first, runs of one millisecond in reverse insertion order, by each filter and before a given run", () => {
      addRun("r1", 1_000);
      addRun("r2", 1_000);
      addRun("r3", 2_000, { mode: "quick" });
      addRun("r4", 3_000, { planName: "other" });
      finishRun(db, "r1", Status.PASSED, 1_500);
      finishRun(db, "r2", Status.FAILED, 1_600);
      insertSignoff(db, "r1", { by: "alice", at: 1_700, accepted: [], acceptedOverrides: [] });

      expect(ids(listRuns(db, 10))).toEqual(["r4", "r3", "r2", "r1"]);
      expect(ids(listRuns(db, 2))).toEqual(["r4", "r3"]);
      expect(ids(listRuns(db, 10, { before: "r3" }))).toEqual(["r2", "r1"]);
      expect(ids(listRuns(db, 10, { before: "r2" }))).toEqual(["r1"]);
      expect(ids(listRuns(db, 10, { planName: "release" }))).toEqual(["r3", "r2", "r1"]);
      expect(ids(listRuns(db, 10, { mode: "quick" }))).toEqual(["r3"]);
      expect(ids(listRuns(db, 10, { finished: true }))).toEqual(["r2", "r1"]);
      expect(ids(listRuns(db, 10, { status: Status.FAILED }))).toEqual(["r2"]);
      expect(listRuns(db, 10, { signedOnly: true }).map((r) => [r.id, r.signoff?.by])).toEqual([["r1", "alice"]]);
      expect(ids(listRuns(db, 10, { planRevision: "rev2" }))).toEqual([]);
    });

    it("finds how a stage last ended in a finished full run of the revision, passing over runs narrowed by a named override", () => {
      addRun("a", 1_000, {}, [Status.PASSED, Status.FAILED]);
      addRun("b", 2_000, { options: { overrides: [{ name: "--node", detail: "n1 only" }, { name: "--iterations", detail: "1" }] } }, [Status.PASSED, Status.PASSED]);
      addRun("unfinished", 3_000);
      addRun("quick", 4_000, { mode: "quick" }, [Status.PASSED, Status.PASSED]);
      addRun("other-revision", 5_000, { planRevision: "rev2" }, [Status.PASSED, Status.PASSED]);
      for (const id of ["a", "b", "quick", "other-revision"]) finishRun(db, id, Status.PASSED, 6_000);

      expect(latestStageOutcome(db, "release", "rev1", "fleet", ["--node", "--only"])).toEqual({ runId: "a", statuses: [Status.PASSED, Status.FAILED] });
      expect(latestStageOutcome(db, "release", "rev1", "fleet", ["--only"])).toEqual({ runId: "b", statuses: [Status.PASSED, Status.PASSED] });
      expect(latestStageOutcome(db, "release", "rev1", "fleet", [])).toEqual({ runId: "b", statuses: [Status.PASSED, Status.PASSED] });
      expect(latestStageOutcome(db, "release", "rev1", "matrix", [])).toBeUndefined();
      expect(latestStageOutcome(db, "release", "rev3", "fleet", [])).toBeUndefined();
    });

    it("finds the rollout phase a run carries out, and the runs of a phase oldest first", () => {
      const gate = { rollout: "ro1", node: "n1", phase: "gate" };
      addRun("r1", 1_000, { options: { rollout: gate } });
      addRun("r2", 1_000, { options: { rollout: gate, vars: { a: "1" } } });
      addRun("r3", 500, { options: { rollout: { ...gate, phase: "apply" } } });
      addRun("r4", 2_000);
      expect(runOrigin(db, "r2")).toEqual(gate);
      expect(runOrigin(db, "r4")).toBeUndefined();
      expect(runOrigin(db, "nope")).toBeUndefined();
      expect(runsOfOrigin(db, gate)).toEqual(["r1", "r2"]);
      expect(runsOfOrigin(db, { ...gate, node: "n2" })).toEqual([]);
    });

    it("merges the values a task's checks captured in the order they started, later over earlier", () => {
      seedRun();
      const captured = (seq: number, checkId: string, startedAtMs: number, values: Record<string, string>) => {
        const event = checkEvent(seq, "run1/fleet/n1/1", checkId, { startedAtMs });
        if (event.body.case === "check" && event.body.value.result) event.body.value.result.captured = values;
        recordAgentEvent(db, "n1", N1_MACHINE, event);
      };
      captured(1, "height", 2_000, { height: "870001", hash: "b" });
      captured(2, "tip", 1_000, { height: "870000", tip: "t" });
      expect(capturesOf(db, ["run1/fleet/n1/1", "run1/smoke/n1/1"])).toEqual(
        new Map([
          ["run1/fleet/n1/1", { height: "870001", hash: "b", tip: "t" }],
          ["run1/smoke/n1/1", {}],
        ]),
      );
    });
  });
});
