// `fleetgate-agent check --waivers FILE`: the waivers in force on this host now, by the same
// parser, expiry rule and matching (shared/model/waivers.ts) the coordinator applies to a run.
import { hostname } from "node:os";
import { expiredWarning, markExpired, parseWaivers, waiversFor, waiverText, type Waiver } from "../../shared/model/waivers.js";
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { Status, statusName } from "../../shared/model/status.js";

export interface LocalWaivers {
  /** In force on this host: not expired, selector matching its name and role. */
  waivers: Waiver[];
  /** One line per waiver ignored because it has expired, for stderr. */
  expired: string[];
}

/** Parses `text` (the file at `file`) and keeps what applies to `node` with `role` at `nowMs`. */
export function localWaivers(text: string, file: string, node: string | undefined, role: string, nowMs: number): LocalWaivers {
  const all = markExpired(parseWaivers(text, file), nowMs);
  return { waivers: waiversFor(all, { node: node ?? hostname(), role }), expired: all.filter((w) => w.expired).map(expiredWarning) };
}

/** The waived checks of a local run, one line each, for the end of the text output. */
export function waivedLines(results: CheckResult[]): string[] {
  return results
    .filter((r) => r.status === Status.WAIVED && r.waiver)
    .map((r) => `waived: ${r.checkId} (${statusName(r.unwaivedStatus)}${r.summary ? `: ${r.summary}` : ""}); ${waiverText(r.waiver as Waiver)}`);
}
