// ListRefusals' answer (`coord refusals`): the refusal log's totals by kind and its newest rows.
import { create } from "@bufbuild/protobuf";
import * as pb from "../../shared/gen/fleetgate/v1/control_pb.js";
import { REFUSALS_KEPT } from "../../shared/model/limits.js";
import type { RefusalLog } from "./refusals.js";

/** Refusals listed when the request names no number. */
export const DEFAULT_REFUSALS_LISTED = 20;

export function refusalList(refusals: RefusalLog | undefined, limit: number): pb.ListRefusalsResponse {
  const n = Math.min(limit > 0 ? limit : DEFAULT_REFUSALS_LISTED, REFUSALS_KEPT);
  const { recent, totals } = refusals?.read(n) ?? { recent: [], totals: [] };
  return create(pb.ListRefusalsResponseSchema, {
    totals: totals.map((t) => ({ side: t.side, kind: t.kind, count: BigInt(t.count), firstAtMs: BigInt(t.firstAt), lastAtMs: BigInt(t.lastAt) })),
    recent: recent.map((r) => ({ atMs: BigInt(r.at), side: r.side, kind: r.kind, code: r.code, peer: r.peer, claimed: r.claimed, message: r.message })),
  });
}
