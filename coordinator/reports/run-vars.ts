// The vars a run was given (coord run --var / --vars-file), as every report shows them. Pure.
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";

/** `vars: host=10.0.0.5, port=8080` (sorted), or undefined for a run given none. */
export function varsLine(run: Pick<RunRecord, "vars">): string | undefined {
  const names = Object.keys(run.vars).sort();
  return names.length ? `vars: ${names.map((n) => `${n}=${run.vars[n]}`).join(", ")}` : undefined;
}
