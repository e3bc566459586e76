import { create } from "@bufbuild/protobuf";
import { beforeEach, describe, expect, it } from "vitest";
import { signoffRefusal, withSignoff, type Acceptance } from "../../coordinator/judgement/signoff-rules.js";
import { judgeStored } from "../../coordinator/judgement/stored.js";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import type { Flake } from "../../coordinator/judgement/types.js";
import { signOff } from "../../coordinator/runs/sign-off.js";
import type { Db } from "../../coordinator/store/db.js";
import { recordAgentEvent } from "../../coordinator/store/agent-events.js";
import { finishRun, getRun, insertRun, listRuns, type RunOptions } from "../../coordinator/store/runs.js";
import { setTaskStatus } from "../../coordinator/store/tasks.js";
import { AgentEventSchema } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { Status } from "../../shared/model/status.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";
import { greenTasks, run, task } from "./judgement-runs.js";

const NOW = 1_714_560_000_000;

function decide(r: RunRecord, accept: Acceptance[] = [], flakes: Flake[] = []) {
  return signoffRefusal(r, judgeRun(withSignoff(r, "alice", accept, NOW), flakes), accept);
}

const skipped = () => run({ skips: [{ target: "matrix", reason: "no KVM host this week", source: "--skip" }] });

describe("signoffRefusal", () => {
  it("lets a GO run be signed off", () => {
    expect(decide(run())).toBeUndefined();
  });

  it("refuses a run already signed off, naming who signed it", () => {
    expect(decide(run({ signoff: { by: "bob", atMs: BigInt(NOW) } }))).toEqual({
      code: "conflict",
      message: "run r1 is already signed off by bob at 2024-05-01T10:40:00.000Z; a run is signed off once",
    });
  });

  it("refuses a running run and says to wait for it", () => {
    expect(decide(run({ status: Status.RUNNING }))?.message).toBe("run r1 is still running; sign it off once it has finished (see it with: coord show r1)");
  });

  it("refuses a quick run and says to run the full gate", () => {
    expect(decide(run({ mode: "quick" }))?.message).toBe(
      "run r1 is a quick run (checks tagged quick only) and can never be signed off; run the gate without --quick and sign that run off",
    );
  });

  it("refuses a run with a role=dev node, naming it", () => {
    expect(decide(run({ unsignable: ["role=dev node dev-1 named with --node"] }))).toEqual({
      code: "conflict",
      message: "run r1 can never be signed off: role=dev node dev-1 named with --node; run the gate again without it",
    });
  });

  it("refuses an attestation-flagged run, naming the flag", () => {
    expect(decide(run({ attestationFlags: ["node n2 shares machine-id with n1"] }))?.message).toBe(
      "run r1 is not valid for sign-off: node n2 shares machine-id with n1; fix the nodes' identity (coord nodes shows the flags) and run the gate again",
    );
  });

  it("refuses a NO-GO run with its reasons", () => {
    const r = run({ status: Status.FAILED, tasks: [...greenTasks(), task("fleet", "n3", 1, Status.FAILED, [], { summary: "http: saw 503" })] });
    expect(decide(r)).toEqual({ code: "conflict", message: "run r1 is NO-GO, only a GO run can be signed off: fleet on n3 #1: failed (http: saw 503)" });
  });

  it("refuses a run with a flaky check", () => {
    const flake: Flake = { stageId: "fleet", node: "n1", checkId: "http", passed: 1, total: 2, runIds: ["r1", "r0"] };
    expect(decide(run(), [], [flake])?.message).toBe("run r1 is NO-GO, only a GO run can be signed off: http on n1 is flaky in fleet: passed 1 of 2");
  });

  it("refuses a run with a skip nobody accepted and says how to accept it", () => {
    expect(decide(skipped())?.message).toBe(
      "run r1 is INCOMPLETE, only a GO run can be signed off: matrix skipped (--skip): no KVM host this week; a skip counts only once accepted by name: --accept-skip TARGET --reason TEXT (not accepted: matrix)",
    );
  });

  it("signs off a run whose every skip is accepted by name with a reason", () => {
    expect(decide(skipped(), [{ target: "matrix", reason: "KVM leg covered by last week's run" }])).toBeUndefined();
  });

  it("refuses to accept a target that was not skipped, listing what was", () => {
    expect(decide(skipped(), [{ target: "matrix/kvm", reason: "r" }])).toEqual({
      code: "bad_input",
      message: "matrix/kvm was not skipped in run r1 (skipped in it: matrix); name a skip exactly as the report shows it",
    });
    expect(decide(run(), [{ target: "matrix", reason: "r" }])?.message).toBe("matrix was not skipped in run r1 (nothing was skipped in it); name a skip exactly as the report shows it");
  });

  it("refuses an accepted skip without a reason", () => {
    expect(decide(skipped(), [{ target: "matrix", reason: "  " }])).toEqual({
      code: "bad_input",
      message: "--accept-skip matrix needs --reason TEXT: every accepted skip is recorded with why it is acceptable",
    });
  });

  it("refuses the same skip accepted twice", () => {
    expect(decide(skipped(), [{ target: "matrix", reason: "a" }, { target: "matrix", reason: "b" }])?.message).toBe("--accept-skip matrix is given twice; accept each skip once");
  });
});

describe.each(STORE_ENGINES)("judgements over the store (%s)", (storeEngine) => {
  const testStore = storeOf(storeEngine);

  describe("signOff against the store", () => {
    let db: Db;
    let created = 1_714_550_000_000;

    beforeEach(async () => {
      db = await testStore.open();
    });

    interface Stored {
      status?: Status;
      mode?: "full" | "quick";
      flags?: string[];
      options?: RunOptions;
      revision?: string;
      /** fleet/http on n1 in each iteration; default one passed iteration. */
      http?: Status[];
      running?: boolean;
    }

    /** Stores a run of plan "release": fleet on n1, one task per `http` outcome, finished unless `running`. */
    function store(id: string, s: Stored = {}): void {
      const http = s.http ?? [Status.PASSED];
      const tasks = http.map((_, i) => ({ id: `${id}/fleet/n1/${i + 1}`, stageId: "fleet", nodeName: "n1", iteration: i + 1, suitePath: "fleet.yaml", allowDestructive: false }));
      insertRun(
        db,
        { id, planName: "release", planPath: "gate.yaml", planYaml: "name: release\n", suites: {}, stages: ["fleet"], flags: s.flags ?? [], createdAt: created++, mode: s.mode ?? "full", planRevision: s.revision ?? "rev1", options: s.options ?? {}, nodes: [] },
        tasks,
      );
      if (s.running) return;
      tasks.forEach((t, i) => {
        const status = http[i] as Status;
        const seq = BigInt(created++);
        const event = create(AgentEventSchema, { seq, origin: { machineId: "m1" }, body: { case: "check", value: { taskId: t.id, result: { checkId: "http", kind: "http", status } } } });
        setTaskStatus(db, t.id, Status.RUNNING, "", created);
        expect(recordAgentEvent(db, "n1", "m1", event).kind).toBe("check");
        setTaskStatus(db, t.id, status, `http ${status === Status.PASSED ? "passed" : "failed"}`, created);
      });
      finishRun(db, id, s.status ?? (http.every((h) => h === Status.PASSED) ? Status.PASSED : Status.FAILED), created);
    }

    function refusal(req: Parameters<typeof signOff>[1]): FleetgateError {
      try {
        signOff(db, req, NOW);
      } catch (err) {
        expect(err).toBeInstanceOf(FleetgateError);
        return err as FleetgateError;
      }
      throw new Error("signOff did not refuse");
    }

    const signedRows = () => (db.prepare("SELECT COUNT(*) AS n FROM signoffs").get() as { n: number }).n;

    it("records who signed a GO run off and when, and returns the run with it", () => {
      store("r1");
      const signed = signOff(db, { runId: "r1", by: " alice ", accept: [] }, NOW);
      expect(signed.signoff).toMatchObject({ by: "alice", atMs: BigInt(NOW), accepted: [] });
      expect(getRun(db, "r1")?.signoff).toEqual({ by: "alice", at: NOW, accepted: [], acceptedOverrides: [], waivers: [] });
      expect(listRuns(db, 10, { signedOnly: true }).map((r) => r.id)).toEqual(["r1"]);
    });

    it("records each accepted skip with its reason, by sign-off", () => {
      store("r1", { options: { skips: [{ target: "matrix", reason: "no KVM host", source: "--skip" }] } });
      signOff(db, { runId: "r1", by: "alice", accept: [{ target: "matrix", reason: "covered by r0" }] }, NOW);
      expect(getRun(db, "r1")?.signoff?.accepted).toEqual([{ target: "matrix", reason: "covered by r0", source: "sign-off" }]);
    });

    it("refuses an unknown run as not found", () => {
      const err = refusal({ runId: "nope", by: "alice", accept: [] });
      expect([err.code, err.message]).toEqual(["not_found", "no run nope; list them with: coord runs"]);
    });

    it("refuses an empty signer before looking at the run", () => {
      const err = refusal({ runId: "nope", by: "  ", accept: [] });
      expect([err.code, err.message]).toEqual(["bad_input", "sign-off needs the name of who signs: who takes responsibility for this release is recorded"]);
    });

    it.each([
      ["a running run", { running: true }, /still running/],
      ["a quick run", { mode: "quick" as const }, /quick run .* can never be signed off/],
      ["a run with a dev node", { options: { unsignable: ["role=dev node dev-1 named with --node"] } }, /can never be signed off: role=dev node dev-1/],
      ["an attestation-flagged run", { flags: ["node n1 runs on the coordinator's own host"] }, /not valid for sign-off: node n1 runs on the coordinator's own host/],
      ["a NO-GO run", { http: [Status.FAILED] }, /is NO-GO.*fleet on n1 #1: failed/],
      ["a run with an unaccepted skip", { options: { skips: [{ target: "matrix", reason: "no KVM", source: "--skip" }] } }, /is INCOMPLETE.*not accepted: matrix/],
    ])("refuses %s as a conflict and records nothing", (_what, stored: Stored, message: RegExp) => {
      store("r1", stored);
      const err = refusal({ runId: "r1", by: "alice", accept: [] });
      expect(err.code).toBe("conflict");
      expect(err.message).toMatch(message);
      expect(signedRows()).toBe(0);
    });

    it("refuses to accept a skip the run does not have, as bad input", () => {
      store("r1");
      const err = refusal({ runId: "r1", by: "alice", accept: [{ target: "matrix", reason: "r" }] });
      expect([err.code, err.message]).toEqual(["bad_input", "matrix was not skipped in run r1 (nothing was skipped in it); name a skip exactly as the report shows it"]);
    });

    it("refuses a second sign-off and keeps the first", () => {
      store("r1");
      signOff(db, { runId: "r1", by: "alice", accept: [] }, NOW);
      const err = refusal({ runId: "r1", by: "bob", accept: [] });
      expect(err.code).toBe("conflict");
      expect(err.message).toMatch(/already signed off by alice/);
      expect(getRun(db, "r1")?.signoff?.by).toBe("alice");
    });

    it("refuses a green run whose check failed in an earlier run of the same revision (flaky)", () => {
      store("r0", { http: [Status.FAILED] });
      store("r1");
      const err = refusal({ runId: "r1", by: "alice", accept: [] });
      expect(err.message).toBe("run r1 is NO-GO, only a GO run can be signed off: http on n1 is flaky in fleet: passed 1 of 2");
    });
  });

  describe("judgeStored", () => {
    let db: Db;
    let created = 1_714_550_000_000;

    beforeEach(async () => {
      db = await testStore.open();
    });

    function store(id: string, http: Status, opts: { revision?: string; mode?: "full" | "quick" } = {}): void {
      const taskId = `${id}/fleet/n1/1`;
      insertRun(
        db,
        { id, planName: "release", planPath: "gate.yaml", planYaml: "", suites: {}, stages: ["fleet"], flags: [], createdAt: created++, mode: opts.mode ?? "full", planRevision: opts.revision ?? "rev1", options: {}, nodes: [] },
        [{ id: taskId, stageId: "fleet", nodeName: "n1", iteration: 1, suitePath: "fleet.yaml", allowDestructive: false }],
      );
      setTaskStatus(db, taskId, Status.RUNNING, "", created);
      recordAgentEvent(db, "n1", "m1", create(AgentEventSchema, { seq: BigInt(created++), origin: { machineId: "m1" }, body: { case: "check", value: { taskId, result: { checkId: "http", status: http } } } }));
      setTaskStatus(db, taskId, http, "", created);
      finishRun(db, id, http, created);
    }

    it("judges a stored run against earlier full runs of its revision only", () => {
      store("old-other-rev", Status.FAILED, { revision: "rev0" });
      store("old-quick", Status.FAILED, { mode: "quick" });
      store("r1", Status.PASSED);
      store("later", Status.FAILED);
      expect(judgeStored(db, "r1").judgement.decision).toBe("GO");
      store("r2", Status.PASSED);
      const { run: r2, judgement } = judgeStored(db, "r2");
      expect(r2.runId).toBe("r2");
      expect(judgement.flakes).toEqual([{ stageId: "fleet", node: "n1", checkId: "http", passed: 2, total: 3, runIds: ["r2", "later", "r1"] }]);
    });

    it("throws not_found for an unknown run", () => {
      expect(() => judgeStored(db, "nope")).toThrow(expect.objectContaining({ code: "not_found" }) as Error);
    });
  });
});
