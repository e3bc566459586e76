// Pure: a rollout as the wire carries it (the Rollout message): what `coord rollout show` and the
// report are made from.
import { create } from "@bufbuild/protobuf";
import { RolloutSchema, type Rollout } from "../../shared/gen/fleetgate/v1/control_pb.js";
import type { RolloutState } from "./core.js";

export interface RolloutHeader {
  id: string;
  change: string;
  plan: string;
  version?: string;
  batch: number;
  createdAt: number;
  finishedAt?: number;
  startedBy: string;
}

export function rolloutMessage(h: RolloutHeader, state: RolloutState, extra: { sequence?: string[]; notes?: string[]; status?: string } = {}): Rollout {
  return create(RolloutSchema, {
    id: h.id,
    change: h.change,
    plan: h.plan,
    version: h.version ?? "",
    status: extra.status ?? state.status,
    summary: state.summary,
    batch: h.batch,
    quick: state.quick,
    createdAtMs: BigInt(h.createdAt),
    finishedAtMs: BigInt(h.finishedAt ?? 0),
    startedBy: h.startedBy,
    nodes: state.nodes.map((n) => ({
      name: n.name,
      batch: n.batch,
      phase: n.phase,
      outcome: n.outcome,
      factsBefore: n.factsBefore,
      factsAfter: n.factsAfter,
      knownGoodBefore: n.knownGoodBefore,
      knownGoodAdvanced: n.knownGoodAdvanced,
      holdReasons: n.holds.map((x) => x.reason),
      approval: n.approval,
      runs: n.runs.map((r) => ({ phase: r.phase, runId: r.runId, status: r.status, summary: r.summary })),
      note: n.note,
      gateStatus: n.gateStatus,
      proofStatus: n.proofStatus,
    })),
    events: state.events.map((e) => ({ atMs: BigInt(e.atMs), kind: e.kind, text: e.text, who: e.who })),
    sequence: extra.sequence ?? [],
    notes: extra.notes ?? [],
  });
}
