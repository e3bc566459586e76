// Stored runs for the evidence tests, built through the real store: insertRun, then the agent
// events a real agent would send (recordAgentEvent), then finishRun.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb, type Db } from "../../coordinator/store/db.js";
import { recordAgentEvent } from "../../coordinator/store/agent-events.js";
import { finishRun, insertRun, type NewTask } from "../../coordinator/store/runs.js";
import { insertSignoff } from "../../coordinator/store/signoffs.js";
import { setTaskStatus } from "../../coordinator/store/tasks.js";
import { AgentEventSchema } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { NodeIdentitySchema, type CheckResultSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { Status } from "../../shared/model/status.js";

/** prim has its own machine-id; every other node shares one (tests never flag attestation). */
export function machineOf(node: string): string {
  return node === "prim" ? "11111111111111111111111111111111" : "22222222222222222222222222222222";
}

export const SMOKE_SUITE = "checks:\n  - id: echo\n    command: { argv: [echo, hi] }\n";
export const FLEET_SUITE = "checks:\n  - id: bats\n    bats: { file: t.bats }\n";

export function planYaml(evidence = ""): string {
  return [
    "plan: release",
    ...(evidence ? [`evidence: ${evidence}`] : []),
    "stages:",
    "  - { id: smoke, kind: single, suite: suites/smoke.yaml, iterations: 2 }",
    "  - { id: fleet, kind: fleet, suite: ../common/fleet.yaml }",
    "",
  ].join("\n");
}

export class StateDir {
  readonly dir = mkdtempSync(join(tmpdir(), "fleetgate-evidence-"));
  readonly db: Db = openDb(join(this.dir, "state", "coord.db"));
  private seq = 0;

  get stateDir(): string {
    return join(this.dir, "state");
  }

  get root(): string {
    return join(this.stateDir, "runs");
  }

  close(): void {
    this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A run of planYaml(evidence): smoke on prim twice, fleet on n1 with bats cases; `finished` ends it. */
  addRun(id: string, opts: { createdAt?: number; evidence?: string; failFleet?: boolean; finished?: boolean; nodeName?: string; stdout?: string } = {}): void {
    const createdAt = opts.createdAt ?? 1_732_514_400_000;
    const fleetNode = opts.nodeName ?? "n1";
    const tasks: NewTask[] = [
      { id: `${id}/smoke/prim/1`, stageId: "smoke", nodeName: "prim", iteration: 1, suitePath: "suites/smoke.yaml", allowDestructive: false, stageKind: "single" },
      { id: `${id}/smoke/prim/2`, stageId: "smoke", nodeName: "prim", iteration: 2, suitePath: "suites/smoke.yaml", allowDestructive: false, stageKind: "single" },
      { id: `${id}/fleet/${fleetNode}/1`, stageId: "fleet", nodeName: fleetNode, iteration: 1, suitePath: "../common/fleet.yaml", allowDestructive: false, stageKind: "fleet" },
    ];
    insertRun(
      this.db,
      {
        id,
        planName: "release",
        planPath: "gate.yaml",
        planYaml: planYaml(opts.evidence),
        suites: { "suites/smoke.yaml": SMOKE_SUITE, "../common/fleet.yaml": FLEET_SUITE },
        stages: ["smoke", "fleet"],
        flags: [],
        createdAt,
        mode: "full",
        planRevision: "rev-1",
        options: { skips: [{ target: "matrix", reason: "no nested KVM", source: "--skip" }], bindings: [{ stageId: "x", role: "writer", node: "prim" }] },
        nodes: ["prim", fleetNode].map((name) =>
          create(NodeIdentitySchema, { name, machineId: machineOf(name), bootId: "boot", hostname: `${name}.lan`, labels: { role: name === "prim" ? "primary" : "fleet" }, factsJson: JSON.stringify({ os: { distro: "Debian" }, memTotal: 8 }) }),
        ),
      },
      tasks,
    );
    const t = createdAt + 1000;
    this.report(`${id}/smoke/prim/1`, "prim", Status.PASSED, { checkId: "echo", status: Status.PASSED, summary: "exit 0", stdoutTail: opts.stdout ?? "hi\n", startedAtMs: BigInt(t), durationMs: 5n, attempts: 1, captured: { greeting: "hi" } });
    this.report(`${id}/smoke/prim/2`, "prim", Status.PASSED, {
      checkId: "echo",
      status: Status.PASSED,
      summary: "exit 0 after 2 attempts",
      stdoutTail: "hi\n",
      stderrTail: "slow start\n",
      startedAtMs: BigInt(t + 100),
      durationMs: 2005n,
      attempts: 2,
      attemptLog: [
        { startedAtMs: BigInt(t + 100), durationMs: 5n, passed: false, summary: "exit 1" },
        { startedAtMs: BigInt(t + 2100), durationMs: 5n, passed: true, summary: "exit 0" },
      ],
    });
    const failed = !!opts.failFleet;
    this.report(`${id}/fleet/${fleetNode}/1`, fleetNode, failed ? Status.FAILED : Status.PASSED, {
      checkId: "bats",
      kind: "bats",
      status: failed ? Status.FAILED : Status.PASSED,
      summary: failed ? "1 of 2 tests failed" : "2 tests passed",
      stdoutTail: "1..2\nok 1 up\n",
      startedAtMs: BigInt(t + 200),
      durationMs: 300n,
      attempts: 1,
      cases: [
        { name: "up", status: Status.PASSED, durationMs: 100n },
        { name: "serves <html>", status: failed ? Status.FAILED : Status.PASSED, message: failed ? "expected 200, saw 503" : "", durationMs: 200n },
      ],
    });
    if (opts.finished !== false) finishRun(this.db, id, failed ? Status.FAILED : Status.PASSED, createdAt + 60_000);
  }

  signOff(runId: string, at = 1_732_600_000_000): void {
    insertSignoff(this.db, runId, { by: "alice", at, accepted: [{ target: "matrix", reason: "KVM host ordered", source: "sign-off" }], acceptedOverrides: [] });
  }

  /** One check result then the task's end, as the agent on `node` sends them. */
  private report(taskId: string, node: string, status: Status, result: MessageInitShape<typeof CheckResultSchema>): void {
    const origin = { machineId: machineOf(node), bootId: "boot", hostname: `${node}.lan` };
    const summary = status === Status.PASSED ? "1/1 checks passed" : "1 of 1 checks failed";
    setTaskStatus(this.db, taskId, Status.RUNNING, "", 1);
    recordAgentEvent(this.db, node, origin.machineId, create(AgentEventSchema, { seq: BigInt(++this.seq), origin, body: { case: "check", value: { taskId, result: { kind: "command", ...result } } } }));
    recordAgentEvent(this.db, node, origin.machineId, create(AgentEventSchema, { seq: BigInt(++this.seq), origin, body: { case: "taskDone", value: { taskId, status, summary } } }));
    // The run engine writes the outcome the sequencer decides; this fixture stands in for it.
    setTaskStatus(this.db, taskId, status, summary, 2);
  }
}
