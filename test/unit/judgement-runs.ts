// RunRecords for the judgement tests: a green full run by default, every part overridable.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { CheckResultSchema, type CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { RunRecordSchema, TaskRecordSchema, type RunRecord, type TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status } from "../../shared/model/status.js";

export function check(checkId: string, status: Status, extra: Partial<Pick<CheckResult, "precondition" | "summary">> = {}): CheckResult {
  return create(CheckResultSchema, { checkId, kind: "command", status, summary: status === Status.PASSED ? "exit 0" : "exit 1", ...extra });
}

export function task(stageId: string, nodeName: string, iteration: number, status: Status, checks: CheckResult[] = [], extra: Partial<Pick<TaskRecord, "stepId" | "summary">> = {}): TaskRecord {
  return create(TaskRecordSchema, { taskId: `${stageId}/${extra.stepId ?? nodeName}/${iteration}`, stageId, nodeName, iteration, status, checks, ...extra });
}

/** smoke on prim twice, fleet on n1 and n2: every check passed. */
export function greenTasks(): TaskRecord[] {
  return [
    task("smoke", "prim", 1, Status.PASSED, [check("echo", Status.PASSED)]),
    task("smoke", "prim", 2, Status.PASSED, [check("echo", Status.PASSED)]),
    task("fleet", "n1", 1, Status.PASSED, [check("synced", Status.PASSED, { precondition: true }), check("http", Status.PASSED)]),
    task("fleet", "n2", 1, Status.PASSED, [check("synced", Status.PASSED, { precondition: true }), check("http", Status.PASSED)]),
  ];
}

export function run(init: MessageInitShape<typeof RunRecordSchema> = {}): RunRecord {
  return create(RunRecordSchema, {
    runId: "r1",
    planName: "release",
    planPath: "gate.yaml",
    planRevision: "rev1",
    mode: "full",
    status: Status.PASSED,
    startedAtMs: 1_714_550_400_000n,
    finishedAtMs: 1_714_551_000_000n,
    stages: ["smoke", "fleet"],
    tasks: greenTasks(),
    ...init,
  });
}
