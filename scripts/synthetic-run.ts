// A finished fleet run of N nodes × 20 checks × I iterations, written into a real coord.db through
// the store's own writers (insertRun, recordAgentEvent, setTaskStatus, finishRun), as a run of that
// size would leave it. For the report bench (`npm run bench -- reports`) and the reports-at-scale
// tests. Deterministic: same size, same rows, same report bytes.
//
// Most results pass, with a short output tail as real checks print. The rest is the mix a bad day
// at fleet scale brings, each outcome with its detail: a node in every hundred not ready (its chain
// still syncing), a node in every 250 lost from its third iteration, a check skipped on every 40th
// node, a flaky `peers` on iteration 2 of every 30th node, and scattered failures (with retries
// and long output tails) and agent errors.
import { create } from "@bufbuild/protobuf";
import { AgentEventSchema, type AgentEvent } from "../shared/gen/fleetgate/v1/agent_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { CheckResultSchema, NodeIdentitySchema, type CheckResult } from "../shared/gen/fleetgate/v1/common_pb.js";
import { foldStatuses, Status } from "../shared/model/status.js";
import { recordAgentEvent } from "../coordinator/store/agent-events.js";
import type { Db } from "../coordinator/store/db.js";
import { finishRun, insertRun, type NewTask } from "../coordinator/store/runs.js";
import { setTaskStatus } from "../coordinator/store/tasks.js";
import { mulberry32 } from "./seeded-random.js";

export interface SyntheticSize {
  nodes: number;
  iterations: number;
}

/** The suite: two preconditions, then 18 checks (20 results a task on a ready node). */
const PRECONDITIONS = [
  { id: "agent-clock", kind: "command" },
  { id: "chain-synced", kind: "bitcoin" },
];
const CHECKS = [
  ["disk-free", "disk"], ["memory", "memory"], ["load", "load"], ["podman-app", "podman"], ["systemd-app", "systemd"], ["http-health", "http"],
  ["http-version", "http"], ["tcp-rpc", "tcp"], ["tcp-p2p", "tcp"], ["peers", "command"], ["bats-smoke", "bats"], ["config-file", "file"],
  ["quadlet-app", "quadlet"], ["nginx-conf", "nginx"], ["chain-height", "bitcoin"], ["logs-clean", "command"], ["cert-expiry", "command"], ["kvm-nested", "command"],
].map(([id, kind]) => ({ id: id as string, kind: kind as string }));

export const SYNTHETIC_CHECKS_PER_TASK = PRECONDITIONS.length + CHECKS.length;
export const SYNTHETIC_STAGE = "fleet";
export const SYNTHETIC_SUITE = "suites/app-node.suite.yaml";
const START_MS = 1_790_000_000_000;

export const nodeName = (i: number): string => `node-${String(i).padStart(4, "0")}`;
const machineId = (i: number): string => i.toString(16).padStart(32, "0");

// The outcome mix, by node number (1-based): see the header.
export const isNotReadyNode = (i: number): boolean => i % 100 === 7;
export const isLostNode = (i: number): boolean => i % 250 === 13;
export const LOST_FROM_ITERATION = 3;
const skipsKvm = (i: number): boolean => i % 40 === 0;
const flakyPeers = (i: number, iteration: number): boolean => i % 30 === 0 && iteration === 2;

function logLines(node: string, check: string, n: number): string {
  return Array.from({ length: n }, (_, k) => `2026-11-28T22:${String(10 + (k % 50)).padStart(2, "0")}:0${k % 10}Z ${node} app[${1200 + k}]: ${check}: upstream 10.0.${k % 256}.${(k * 7) % 256}:8332 answered 503 after ${40 + k} ms (attempt ${1 + (k % 3)})`).join("\n");
}

function result(id: string, kind: string, precondition: boolean, at: number, init: Omit<MessageInitShape<typeof CheckResultSchema>, "$typeName">): CheckResult {
  return create(CheckResultSchema, { checkId: id, kind, precondition, startedAtMs: BigInt(at), durationMs: 12n, attempts: 1, ...init });
}

const passed = (id: string, kind: string, precondition: boolean, at: number): CheckResult =>
  result(id, kind, precondition, at, { status: Status.PASSED, summary: kind === "http" ? "status 200 in 12 ms" : "exit 0", stdoutTail: `${id}: ok (${kind}) — all expectations met\n` });

/** The results one task reports, and how the task ends. */
function taskOutcome(i: number, iteration: number, at: number, next: () => number): { results: CheckResult[]; status: Status; summary: string } {
  const node = nodeName(i);
  const lost = isLostNode(i) && iteration >= LOST_FROM_ITERATION;
  if (lost && iteration > LOST_FROM_ITERATION) return { results: [], status: Status.LOST, summary: `node ${node} lost: not connected for 5 min` };
  const results: CheckResult[] = [passed(PRECONDITIONS[0]!.id, PRECONDITIONS[0]!.kind, true, at)];
  if (isNotReadyNode(i)) {
    const summary = `blocks ${700_000 + i}/${870_000}: initial block download in progress`;
    results.push(result("chain-synced", "bitcoin", true, at + 1, { status: Status.NOT_READY, summary, hint: "wait for the initial block download to finish", stdoutTail: `{"blocks": ${700_000 + i}, "headers": 870000, "initialblockdownload": true}\n` }));
    return { results, status: Status.NOT_READY, summary: `not ready: precondition chain-synced: ${summary}; hint: wait for the initial block download to finish` };
  }
  results.push(passed(PRECONDITIONS[1]!.id, PRECONDITIONS[1]!.kind, true, at + 1));
  const gate: CheckResult[] = [];
  for (const [k, c] of CHECKS.entries()) {
    if (lost && k >= 8) break; // the link dropped mid-task
    const t = at + 2 + k;
    const roll = next();
    if (c.id === "kvm-nested" && skipsKvm(i)) {
      gate.push(result(c.id, c.kind, false, t, { status: Status.SKIPPED, summary: "skipped: requires nested KVM, which this node lacks", reason: "requires nested KVM, which this node lacks" }));
    } else if ((c.id === "peers" && flakyPeers(i, iteration)) || roll < 0.004) {
      const summary = c.kind === "http" ? "expected status 200, saw 503" : `expected exit 0, saw 1`;
      gate.push(result(c.id, c.kind, false, t, {
        status: Status.FAILED,
        summary,
        hint: "restart the app's container, then check its upstream in the logs",
        attempts: 3,
        attemptLog: [0, 1, 2].map((a) => ({ startedAtMs: BigInt(t + a * 1000), durationMs: 900n, passed: false, summary })),
        stdoutTail: logLines(node, c.id, 24),
        stderrTail: `${c.id}: giving up after 3 attempts\n`,
      }));
    } else if (roll < 0.005) {
      gate.push(result(c.id, c.kind, false, t, { status: Status.ERROR, summary: `agent error: spawn ${c.kind} ENOENT`, stderrTail: `Error: spawn ${c.kind} ENOENT\n    at ChildProcess._handle.onexit (node:internal/child_process:286:19)\n` }));
    } else {
      gate.push(passed(c.id, c.kind, false, t));
    }
  }
  results.push(...gate);
  if (lost) return { results, status: Status.LOST, summary: `node ${node} lost: not connected for 5 min` };
  // As the agent ends a task (agent/engine/run-suite.ts): the gate checks folded, a summary of counts.
  const count = (s: Status) => gate.filter((r) => r.status === s).length;
  const status = foldStatuses(gate.map((r) => r.status));
  const parts = [`${count(Status.PASSED)}/${gate.length} passed`, ...[Status.FAILED, Status.SKIPPED, Status.ERROR].flatMap((s) => (count(s) ? [`${count(s)} ${s === Status.FAILED ? "failed" : s === Status.SKIPPED ? "skipped" : "errors"}`] : []))];
  const bad = gate.find((r) => r.status === status && status !== Status.PASSED);
  return { results, status, summary: bad ? `${parts.join(", ")}; ${bad.checkId}: ${bad.summary}` : parts.join(", ") };
}

function event(seq: number, i: number, taskId: string, r: CheckResult): AgentEvent {
  return create(AgentEventSchema, { seq: BigInt(seq), origin: { machineId: machineId(i), bootId: `boot-${i}`, hostname: `${nodeName(i)}.fleet.example` }, body: { case: "check", value: { taskId, result: r } } });
}

/**
 * Writes run `runId` of `size` into `db` and finishes it. The caller picks the db's synchronous
 * setting: building the run is not what is measured, reading it back is.
 */
export function writeSyntheticRun(db: Db, runId: string, size: SyntheticSize): void {
  const nodes = Array.from({ length: size.nodes }, (_, k) => k + 1);
  const tasks: NewTask[] = nodes.flatMap((i) =>
    Array.from({ length: size.iterations }, (_, it) => ({ id: `${runId}/${SYNTHETIC_STAGE}/${nodeName(i)}/${it + 1}`, stageId: SYNTHETIC_STAGE, stageKind: "fleet", nodeName: nodeName(i), iteration: it + 1, suitePath: SYNTHETIC_SUITE, allowDestructive: false })),
  );
  insertRun(db, {
    id: runId,
    planName: "release",
    planPath: "plans/gate.yaml",
    planYaml: `plan: release\nstages:\n  - { id: ${SYNTHETIC_STAGE}, kind: fleet, suite: ${SYNTHETIC_SUITE} }\n`,
    suites: { [SYNTHETIC_SUITE]: "suite: app-node\n" },
    stages: [SYNTHETIC_STAGE],
    flags: [],
    createdAt: START_MS,
    mode: "full",
    planRevision: "synthetic",
    options: { transport: "tls" },
    nodes: nodes.map((i) => create(NodeIdentitySchema, { name: nodeName(i), machineId: machineId(i), bootId: `boot-${i}`, hostname: `${nodeName(i)}.fleet.example`, agentVersion: "0.1.0", labels: { role: "fleet" } })),
  }, tasks);
  const next = mulberry32(16);
  const noWaivers = () => [];
  for (const i of nodes) {
    // One transaction per node around its events (each event still its own savepoint, as ingest commits it).
    db.transaction(() => {
      let seq = 0;
      for (let it = 1; it <= size.iterations; it++) {
        const taskId = `${runId}/${SYNTHETIC_STAGE}/${nodeName(i)}/${it}`;
        const at = START_MS + i * 10 + it * 100_000;
        const outcome = taskOutcome(i, it, at, next);
        if (outcome.results.length) setTaskStatus(db, taskId, Status.RUNNING, "", at);
        for (const r of outcome.results) {
          const stored = recordAgentEvent(db, nodeName(i), machineId(i), event(++seq, i, taskId, r), at, noWaivers);
          if (stored.kind !== "check") throw new Error(`synthetic run: event ${seq} of ${nodeName(i)} was ${stored.kind}, expected check`);
        }
        setTaskStatus(db, taskId, outcome.status, outcome.summary, at + 60_000);
      }
    })();
  }
  finishRun(db, runId, Status.FAILED, START_MS + 900_000);
}
