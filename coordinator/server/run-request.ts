// The run request as the sequencer takes it, from the wire. StartRun and ResolvePlan share it,
// so a dry run resolves exactly what the real run would.
import type * as pb from "../../shared/gen/fleetgate/v1/control_pb.js";
import type { RunRequest } from "../sequencer/plan-run.js";

export function runRequest(req: pb.StartRunRequest): RunRequest {
  return {
    stages: req.stages,
    nodeNames: req.nodeNames,
    iterations: req.iterations,
    skips: req.skips.map((s) => ({ target: s.target, reason: s.reason })),
    withLegs: req.withLegs,
    quick: req.quick,
    bindings: { ...req.bindings },
    onlyChecks: [...req.onlyChecks],
    tags: [...req.tags],
  };
}

