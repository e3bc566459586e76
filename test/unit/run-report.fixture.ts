// Hand-built runs for the CLI format and report tests. sampleRun: a passed single stage, a fleet
// stage with a failure, a not-ready node and a lost node, a skipped last stage and one attestation
// flag. gateRun: every stage kind and every outcome, with outputs, inner cases, attempts and skips.
import { create } from "@bufbuild/protobuf";
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { OverrideSchema, RunRecordSchema, SignOffSchema, TaskRecordSchema, type RunRecord, type TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
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

type FullCheck = Partial<Omit<CheckResult, "$typeName" | "cases" | "attemptLog">> & {
  cases?: { name: string; status: Status; message?: string; durationMs?: bigint }[];
  attemptLog?: { startedAtMs: bigint; durationMs: bigint; passed: boolean; summary: string }[];
};

const T0 = 1_732_514_400_000n; // 2024-11-25T06:00:00Z

function gateTask(
  stageKind: string,
  stageId: string,
  nodeName: string,
  iteration: number,
  status: Status,
  summary: string,
  checks: FullCheck[],
  extra: Partial<Pick<TaskRecord, "stepId" | "role" | "suitePath">> = {},
  startOffsetS = 0,
): TaskRecord {
  const startedAtMs = T0 + BigInt(startOffsetS * 1000);
  return create(TaskRecordSchema, {
    taskId: `g1/${stageId}/${extra.stepId ?? nodeName}/${iteration}`,
    stageId,
    stageKind,
    nodeName,
    iteration,
    status,
    summary,
    startedAtMs,
    finishedAtMs: startedAtMs + 30_000n,
    suitePath: "",
    ...extra,
    checks: checks.map((c, i) => ({ kind: "command", startedAtMs: startedAtMs + BigInt(i * 1000), durationMs: 250n, attempts: 1, ...c })),
  });
}

const NO_KVM = 'expected /sys/module/kvm_intel/parameters/nested to contain "Y", saw "N"';
const KVM_HINT = "enable nested KVM (options kvm-intel nested=1) and reboot once";

/**
 * A full-mode gate run with every kind of stage and every outcome a report must show: a single
 * stage green over two iterations, a fleet stage with a failure (output holding `</script>`, a
 * control character and markup), a bats check with inner cases, a retried check, a not-ready node
 * and a lost node, a cross stage with roles and a captured value, a matrix with a cancelled leg
 * and a leg skipped by its failed `requires:` probe, skips decided before the run, an attestation
 * flag and an unsignable note. Full scope: no override.
 */
export function gateRun(overrides: Partial<Pick<RunRecord, "status" | "attestationFlags" | "unsignable" | "mode" | "signoff" | "skips" | "overrides">> = {}): RunRecord {
  const fleetSuite = { suitePath: "suites/app.yaml" };
  return create(RunRecordSchema, {
    runId: "g1",
    planName: "release",
    planPath: "plans/gate.yaml",
    planRevision: "sha256:9f2c4e1ab07d5c3318e6f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1",
    mode: "full",
    status: Status.FAILED,
    startedAtMs: T0,
    finishedAtMs: T0 + 600_000n,
    stages: ["smoke", "fleet", "handoff", "matrix"],
    withLegs: [],
    attestationFlags: ["nodes node-c, node-d share machine-id 1f2e3d4c"],
    unsignable: [],
    nodes: [{ name: "node-b", machineId: "7c1d0e5f", bootId: "b-1", hostname: "node-b.fleet.example", labels: { zone: "a", role: "fleet" }, capabilities: ["podman", "curl"], agentVersion: "0.1.0" }],
    bindings: [
      { stageId: "handoff", role: "writer", node: "node-a" },
      { stageId: "handoff", role: "reader", node: "node-b" },
    ],
    skips: [
      { target: "matrix/kvm", reason: "nested KVM disabled on the only matching host", source: "--skip" },
      { target: "matrix/e2e", reason: "opt-in leg not asked for with --with", source: "opt-in" },
    ],
    tasks: [
      gateTask("single", "smoke", "prim", 1, Status.PASSED, "1/1 checks passed", [{ checkId: "echo", status: Status.PASSED, summary: "exit 0", stdoutTail: "ok\n" }], { suitePath: "suites/smoke.yaml" }),
      gateTask("single", "smoke", "prim", 2, Status.PASSED, "1/1 checks passed", [{ checkId: "echo", status: Status.PASSED, summary: "exit 0", stdoutTail: "ok\n" }], { suitePath: "suites/smoke.yaml" }, 31),
      gateTask("fleet", "fleet", "node-a", 1, Status.PASSED, "3/3 checks passed", [
        { checkId: "synced", precondition: true, kind: "bitcoin", status: Status.PASSED, summary: "headers = blocks" },
        { checkId: "http", kind: "http", status: Status.PASSED, summary: "status 200", attempts: 3, attemptLog: [
          { startedAtMs: T0 + 60_000n, durationMs: 100n, passed: false, summary: "connection refused" },
          { startedAtMs: T0 + 62_000n, durationMs: 100n, passed: false, summary: "status 502" },
          { startedAtMs: T0 + 64_000n, durationMs: 120n, passed: true, summary: "status 200" },
        ] },
        { checkId: "lifecycle", kind: "bats", status: Status.PASSED, summary: "2/2 tests passed", cases: [
          { name: "deploy", status: Status.PASSED, durationMs: 1200n },
          { name: "upgrade", status: Status.PASSED, durationMs: 2300n },
        ] },
      ], fleetSuite, 60),
      gateTask("fleet", "fleet", "node-b", 1, Status.PASSED, "3/3 checks passed", [
        { checkId: "synced", precondition: true, kind: "bitcoin", status: Status.PASSED, summary: "headers = blocks" },
        { checkId: "http", kind: "http", status: Status.PASSED, summary: "status 200" },
        { checkId: "lifecycle", kind: "bats", status: Status.PASSED, summary: "2/2 tests passed", cases: [
          { name: "deploy", status: Status.PASSED, durationMs: 1100n },
          { name: "upgrade", status: Status.PASSED, durationMs: 2100n },
        ] },
      ], fleetSuite, 60),
      gateTask("fleet", "fleet", "node-b", 2, Status.FAILED, "2 of 3 checks failed", [
        { checkId: "synced", precondition: true, kind: "bitcoin", status: Status.PASSED, summary: "headers = blocks" },
        { checkId: "http", kind: "http", status: Status.FAILED, summary: "expected status 200, saw 503", hint: "restart nginx | check <upstream> logs",
          stdoutTail: "<html><script>alert(1)</script></html>\n", stderrTail: "upstream \u0007timed out & gave up\n" },
        { checkId: "lifecycle", kind: "bats", status: Status.FAILED, summary: "1 of 2 tests failed", stderrTail: "not ok 2 upgrade\n# `abra app upgrade` exited 1\n", cases: [
          { name: "deploy", status: Status.PASSED, durationMs: 1000n },
          { name: "upgrade", status: Status.FAILED, message: "abra app upgrade exited 1", durationMs: 4000n },
        ] },
        { checkId: "wipe-volume", kind: "command", status: Status.SKIPPED, reason: "destructive; stage does not allow destructive checks" },
      ], fleetSuite, 95),
      gateTask("fleet", "fleet", "node-c", 1, Status.NOT_READY, "precondition synced: node not ready", [
        { checkId: "synced", precondition: true, kind: "bitcoin", status: Status.NOT_READY, summary: "blocks 10/800000: IBD in progress", hint: "wait for IBD to finish" },
      ], fleetSuite, 60),
      gateTask("fleet", "fleet", "node-d", 1, Status.LOST, "node node-d lost: not connected for 5 min", [], fleetSuite, 60),
      gateTask("cross", "handoff", "node-a", 1, Status.PASSED, "1/1 checks passed", [
        { checkId: "write-doc", status: Status.PASSED, summary: "exit 0", captured: { doc_id: "d-42" } },
      ], { stepId: "write", role: "writer" }, 200),
      gateTask("cross", "handoff", "node-b", 1, Status.FAILED, "1 of 1 checks failed", [
        { checkId: "read-doc", kind: "http", status: Status.FAILED, summary: "expected status 200, saw 404 for /docs/d-42" },
      ], { stepId: "read", role: "reader" }, 230),
      gateTask("matrix", "matrix", "node-a", 1, Status.PASSED, "1/1 checks passed", [
        { checkId: "chainfire-flaredb", status: Status.PASSED, summary: "exit 0" },
      ], { stepId: "storage", suitePath: "suites/storage.yaml" }, 300),
      gateTask("matrix", "matrix", "node-b", 1, Status.CANCELLED, "cancelled: run cancelled by ops", [], { stepId: "billing" }, 330),
      // As the agent reports a leg whose `requires:` probe failed: the probe as a failed
      // precondition, the leg skipped with the probe's words (agent/daemon/task-runner.ts).
      gateTask("matrix", "matrix", "node-a", 1, Status.SKIPPED, `requires probe.nested-kvm: ${NO_KVM}; hint: ${KVM_HINT}`, [
        { checkId: "probe.nested-kvm", kind: "file", precondition: true, status: Status.FAILED, summary: NO_KVM, hint: KVM_HINT },
      ], { stepId: "plasma" }, 360),
    ],
    ...overrides,
  });
}

/** gateRun with only its passed tasks, no skip and clean attestation: a run judged GO. */
export function greenRun(): RunRecord {
  const run = gateRun({ status: Status.PASSED, attestationFlags: [], skips: [] });
  run.tasks = run.tasks.filter((t) => t.status === Status.PASSED);
  return run;
}

/** The two ways a run in these tests is narrower than its plan (RunRecord.overrides). */
export const NARROWED = [
  { name: "iterations", detail: "iterations 1 of 2 on fleet" },
  { name: "nodes", detail: "node subset: node-b of node-a, node-b on fleet" },
];

/** `run` narrowed by NARROWED and signed off by ana, who accepted the iterations override by name. */
export function narrowedSignedOff(run: RunRecord): RunRecord {
  run.overrides = NARROWED.map((o) => create(OverrideSchema, o));
  run.signoff = create(SignOffSchema, {
    by: "ana",
    atMs: 1_732_515_600_000n,
    acceptedOverrides: [{ target: "iterations", reason: "the second iteration ran in yesterday's run", source: "sign-off" }],
  });
  return run;
}
