import { describe, expect, it } from "vitest";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import type { Flake } from "../../coordinator/judgement/types.js";
import { Status } from "../../shared/model/status.js";
import { check, greenTasks, run, task } from "./judgement-runs.js";

const signedBy = (...targets: string[]) => ({ by: "alice", atMs: 1n, accepted: targets.map((target) => ({ target, reason: "known", source: "sign-off" })) });

const probeSkippedLeg = () => [
  ...greenTasks(),
  task("matrix", "n1", 1, Status.SKIPPED, [], { stepId: "kvm", summary: "probe nested-kvm failed: /dev/kvm missing" }),
];

describe("judgeRun", () => {
  it("says GO for a finished full run where every task passed, with nothing to explain", () => {
    const j = judgeRun(run());
    expect(j).toEqual({ decision: "GO", reasons: [], flakes: [], signable: true, waived: [], expiredWaivers: [] });
  });

  it("never says GO for a quick run, even when every check passed", () => {
    const j = judgeRun(run({ mode: "quick" }));
    expect(j.decision).toBe("INCOMPLETE");
    expect(j.signable).toBe(false);
    expect(j.reasons).toEqual(["quick run: checks tagged quick only; never signable"]);
  });

  it("never says GO for a run made unsignable by a role=dev node", () => {
    const j = judgeRun(run({ unsignable: ["role=dev node dev-1 named with --node"] }));
    expect(j.decision).toBe("INCOMPLETE");
    expect(j.reasons).toEqual(["not valid for sign-off: role=dev node dev-1 named with --node"]);
  });

  it("never says GO when attestation flagged a node", () => {
    const j = judgeRun(run({ attestationFlags: ["node n2 shares machine-id with n1"] }));
    expect(j.decision).toBe("INCOMPLETE");
    expect(j.reasons).toEqual(["not valid for sign-off: node n2 shares machine-id with n1"]);
  });

  it("says INCOMPLETE for a stage skipped before the run until sign-off accepts it by name", () => {
    const skips = [{ target: "matrix", reason: "no KVM host this week", source: "--skip" }];
    expect(judgeRun(run({ skips })).reasons).toEqual(["matrix skipped (--skip): no KVM host this week"]);
    expect(judgeRun(run({ skips, signoff: signedBy("matrix") })).decision).toBe("GO");
    expect(judgeRun(run({ skips, signoff: signedBy("matrix/kvm") })).decision).toBe("INCOMPLETE");
  });

  it("lists an opt-in leg nobody asked for without holding GO: it is outside the gate unless run with --with", () => {
    const skips = [{ target: "e2e", reason: "opt-in leg; run it with --with e2e", source: "opt-in" }];
    expect(judgeRun(run({ skips }))).toMatchObject({ decision: "GO", reasons: [] });
  });

  it("accepts a skipped leg by its STAGE/STEP target or its stage, not by the bare leg id", () => {
    expect(judgeRun(run({ tasks: probeSkippedLeg() })).reasons).toEqual(["matrix/kvm on n1: skipped (probe nested-kvm failed: /dev/kvm missing)"]);
    expect(judgeRun(run({ tasks: probeSkippedLeg(), signoff: signedBy("matrix/kvm") })).decision).toBe("GO");
    expect(judgeRun(run({ tasks: probeSkippedLeg(), signoff: signedBy("matrix") })).decision).toBe("GO");
    expect(judgeRun(run({ tasks: probeSkippedLeg(), signoff: signedBy("kvm") })).decision).toBe("INCOMPLETE");
  });

  it("says INCOMPLETE when a node was lost, naming the task", () => {
    const tasks = [...greenTasks(), task("fleet", "n3", 1, Status.LOST, [], { summary: "node n3 lost: not connected for 60s" })];
    const j = judgeRun(run({ tasks, status: Status.LOST }));
    expect(j.decision).toBe("INCOMPLETE");
    expect(j.reasons).toEqual(["fleet on n3 #1: lost (node n3 lost: not connected for 60s)"]);
  });

  it("says INCOMPLETE when a node was not ready", () => {
    const tasks = [...greenTasks(), task("fleet", "n3", 1, Status.NOT_READY, [check("synced", Status.NOT_READY, { precondition: true })], { summary: "not ready: IBD" })];
    expect(judgeRun(run({ tasks, status: Status.NOT_READY })).decision).toBe("INCOMPLETE");
  });

  it("says NO-GO on a failed task, listing failures before what is unverified", () => {
    const tasks = [
      ...greenTasks(),
      task("fleet", "n3", 1, Status.LOST, [], { summary: "lost" }),
      task("fleet", "n4", 1, Status.FAILED, [check("http", Status.FAILED)], { summary: "http: expected 200, saw 503" }),
    ];
    const j = judgeRun(run({ tasks, status: Status.FAILED }));
    expect(j.decision).toBe("NO-GO");
    expect(j.signable).toBe(false);
    expect(j.reasons).toEqual(["fleet on n4 #1: failed (http: expected 200, saw 503)", "fleet on n3 #1: lost (lost)"]);
  });

  it("says NO-GO on a flaky check even when every task of this run passed", () => {
    const flake: Flake = { stageId: "fleet", node: "n1", checkId: "http", passed: 3, total: 4, runIds: ["r1", "r0"] };
    const j = judgeRun(run(), [flake]);
    expect(j.decision).toBe("NO-GO");
    expect(j.flakes).toEqual([flake]);
    expect(j.reasons).toEqual(["http on n1 is flaky in fleet: passed 3 of 4"]);
  });

  it("says INCOMPLETE for a running run without listing each task still pending", () => {
    const tasks = [greenTasks()[0]!, task("fleet", "n1", 1, Status.RUNNING), task("fleet", "n2", 1, Status.PENDING)];
    const j = judgeRun(run({ status: Status.RUNNING, tasks }));
    expect(j.decision).toBe("INCOMPLETE");
    expect(j.reasons).toEqual(["run has not finished"]);
  });

  it("says INCOMPLETE for a finished run that still holds a pending task", () => {
    const tasks = [...greenTasks(), task("fleet", "n3", 1, Status.PENDING)];
    expect(judgeRun(run({ tasks })).reasons).toEqual(["fleet on n3 #1: pending"]);
  });

  it("says INCOMPLETE for a finished run with no task at all", () => {
    expect(judgeRun(run({ tasks: [] })).reasons).toEqual(["run has no task: nothing was verified"]);
  });

  it("says INCOMPLETE for cancelled and errored tasks", () => {
    for (const status of [Status.CANCELLED, Status.ERROR]) {
      const j = judgeRun(run({ tasks: [...greenTasks(), task("fleet", "n3", 1, status, [], { summary: "why" })], status }));
      expect(j.decision).toBe("INCOMPLETE");
    }
  });

  it("does not say GO when the run's own status is not passed though every task passed", () => {
    const j = judgeRun(run({ status: Status.ERROR }));
    expect(j.decision).toBe("INCOMPLETE");
    expect(j.reasons).toEqual(["run ended error"]);
  });
});
