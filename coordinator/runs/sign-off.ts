// `coord signoff`: records who signed a finished run off, when, and which skips and overrides
// (narrowings of the plan) they accepted.
// The decision is signoffRefusal's (pure); this file loads, decides and writes in one transaction,
// so two sign-offs of one run cannot both land.
import type { RunSummary } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import type { Db } from "../store/db.js";
import { insertSignoff } from "../store/signoffs.js";
import { acceptedSkips, signoffRefusal, withSignoff, type Acceptance } from "../judgement/signoff-rules.js";
import { runWithFlakes, summarizeStored } from "../judgement/stored.js";
import { judgeRun } from "../judgement/verdict.js";
import { usedWaivers } from "../judgement/waivers.js";
import { toJson } from "@bufbuild/protobuf";
import { WaiverSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";

export interface SignOffInput {
  runId: string;
  /** Who signs: the person the call's token belongs to (ControlService.SignOff), never a typed name. */
  by: string;
  accept: Acceptance[];
  /** Overrides of a narrowed run accepted by name (--accept-override), each with a reason. */
  acceptOverrides?: Acceptance[];
}

/**
 * Signs `req.runId` off at `now` and returns the signed run's summary (who, when, what was accepted,
 * the verdict): small whatever the run's size, so answering can never fail once the sign-off is
 * committed. Throws FleetgateError when refused, having recorded nothing.
 */
export function signOff(db: Db, req: SignOffInput, now: number): RunSummary {
  const by = req.by.trim();
  if (!by) throw new FleetgateError("bad_input", "sign-off needs the name of who signs: who takes responsibility for this release is recorded");
  return db.transaction((): RunSummary => {
    // The verdict never reads check output: leave the tails in the store.
    const run = runWithFlakes(db, req.runId, undefined, undefined, { output: false });
    if (!run) throw new FleetgateError("not_found", `no run ${req.runId}; list them with: coord runs`);
    const overrides = req.acceptOverrides ?? [];
    const judgement = judgeRun(withSignoff(run, by, req.accept, now, overrides), run.flakes);
    const refusal = signoffRefusal(run, judgement, req.accept, overrides);
    if (refusal) throw new FleetgateError(refusal.code, refusal.message);
    // The signer accepts exactly the waivers that covered a check of this run: recorded with the sign-off.
    const waivers = usedWaivers(run).map((w) => toJson(WaiverSchema, w));
    insertSignoff(db, run.runId, { by, at: now, accepted: acceptedSkips(req.accept), acceptedOverrides: acceptedSkips(overrides), waivers });
    return summarizeStored(db, run.runId) as RunSummary;
  })();
}
