// ControlService's rollout calls (`coord rollout`, issue 18): start (or dry-run), read, list,
// approve a hold, abort. Authorized like every other control call (access/roles.ts).
import { create } from "@bufbuild/protobuf";
import * as pb from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import type { RolloutController } from "../rollouts/controller.js";
import { rolloutMessage } from "../rollouts/view.js";
import { getRollout, listRollouts, type StoredRollout } from "../store/rollouts.js";
import { parseChange } from "../../shared/model/change.js";
import { bindMethods, unary, type ControlServiceDeps } from "./control-service.js";

export interface RolloutServiceDeps extends ControlServiceDeps {
  rollouts: RolloutController;
}

/** `version`: the change's, when the caller has it parsed already; read from the stored change file otherwise. */
function message(r: StoredRollout, extra: { version?: string; notes?: string[] } = {}): pb.Rollout {
  const version = extra.version ?? parseChange(r.request.changeYaml, r.request.changePath || "change.yaml").version;
  return rolloutMessage({ id: r.id, change: r.changeName, plan: r.planName, version, batch: r.request.batch || 1, createdAt: r.createdAt, finishedAt: r.finishedAt, startedBy: r.startedBy }, r.state, { notes: extra.notes });
}

/** A reason is what the record keeps of a decision: required, as for --skip and sign-off. */
function reasonOf(reason: string, what: string): string {
  const text = reason.trim();
  if (!text) throw new FleetgateError("bad_input", `${what} needs --reason TEXT: it is recorded with the rollout`);
  return text;
}

export function rolloutHandlers(deps: RolloutServiceDeps) {
  const stored = (id: string) => {
    const r = getRollout(deps.db, id);
    if (!r) throw new FleetgateError("not_found", `no rollout ${id}; see: coord rollouts`);
    return r;
  };
  return bindMethods({
    startRollout: unary(deps, (req: pb.StartRolloutRequest, who): pb.StartRolloutResponse => {
      if (req.dryRun) {
        const { decided, state, sequence } = deps.rollouts.dryRun(req);
        const header = { id: "", change: decided.change.name, plan: decided.plan.name, version: decided.change.version, batch: req.batch || 1, createdAt: Date.now(), startedBy: who.name };
        return create(pb.StartRolloutResponseSchema, { rollout: rolloutMessage(header, state, { sequence, notes: decided.notes, status: "dry-run" }) });
      }
      const { stored: r, decided } = deps.rollouts.begin(req, who.name);
      return create(pb.StartRolloutResponseSchema, { rolloutId: r.id, rollout: message(r, { version: decided.change.version, notes: decided.notes }) });
    }),
    getRollout: unary(deps, (req: pb.GetRolloutRequest): pb.GetRolloutResponse => create(pb.GetRolloutResponseSchema, { rollout: message(stored(req.rolloutId)) })),
    listRollouts: unary(deps, (req: pb.ListRolloutsRequest): pb.ListRolloutsResponse => create(pb.ListRolloutsResponseSchema, { rollouts: listRollouts(deps.db, req.limit || 50).map((r) => message(r)) })),
    approveRollout: unary(deps, (req: pb.ApproveRolloutRequest, who): pb.ApproveRolloutResponse => {
      const r = deps.rollouts.approve(req.rolloutId, who.name, reasonOf(req.reason, "approving a held rollout"));
      return create(pb.ApproveRolloutResponseSchema, { rollout: message(r) });
    }),
    abortRollout: unary(deps, (req: pb.AbortRolloutRequest, who): pb.AbortRolloutResponse => {
      const r = deps.rollouts.abort(req.rolloutId, who.name, reasonOf(req.reason, "aborting a rollout"));
      return create(pb.AbortRolloutResponseSchema, { rollout: message(r) });
    }),
  });
}
