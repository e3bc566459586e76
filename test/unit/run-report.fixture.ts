// A hand-built run shared by the format and markdown tests: a passed single stage, a fleet stage
// with a failure, a not-ready node and a lost node, a skipped last stage and one attestation flag.
import { create } from "@bufbuild/protobuf";
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { RunRecordSchema, TaskRecordSchema, type RunRecord, type TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status } from "../../shared/model/status.js";

type CheckInit = Partial<Pick<CheckResult, "checkId" | "status" | "summary" | "precondition" | "hint">>;

function task(stageId: string, nodeName: string, iteration: number, status: Status, summary = "", checks: CheckInit[] = []): TaskRecord {
  return create(TaskRecordSchema, { taskId: `r1/${stageId}/${nodeName}/${iteration}`, stageId, nodeName, iteration, status, summary, checks: checks.map((c) => ({ kind: "command", ...c })) });
}

export function sampleRun(overrides: Partial<Pick<RunRecord, "status" | "attestationFlags">> = {}): RunRecord {
  return create(RunRecordSchema, {
    runId: "r1",
    planName: "release",
    planPath: "plans/gate.yaml",
    status: Status.FAILED,
    startedAtMs: 1_714_550_400_000n,
    finishedAtMs: 1_714_551_000_000n,
    stages: ["smoke", "fleet", "after"],
    attestationFlags: ["nodes n2, n3 share machine-id 1f2e3d4c"],
    tasks: [
      task("smoke", "prim", 1, Status.PASSED, "1/1 checks passed", [{ checkId: "echo", status: Status.PASSED, summary: "exit 0" }]),
      task("smoke", "prim", 2, Status.PASSED, "1/1 checks passed", [{ checkId: "echo", status: Status.PASSED, summary: "exit 0" }]),
      task("fleet", "n1", 1, Status.PASSED, "2/2 checks passed"),
      task("fleet", "n1", 2, Status.FAILED, "1 of 2 checks failed", [
        { checkId: "synced", precondition: true, status: Status.PASSED, summary: "ok" },
        { checkId: "http", status: Status.FAILED, summary: "expected status 200, saw 503", hint: "restart nginx | check logs" },
      ]),
      task("fleet", "n2", 1, Status.NOT_READY, "precondition synced: node not ready", [
        { checkId: "synced", precondition: true, status: Status.NOT_READY, summary: "blocks 10/800000\nIBD", hint: "wait for IBD to finish" },
      ]),
      task("fleet", "n3", 1, Status.LOST, "node n3 lost: not connected for 5 min"),
      task("after", "prim", 1, Status.SKIPPED, "stage fleet did not pass (failed)"),
    ],
    ...overrides,
  });
}
