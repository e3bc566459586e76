// The verdict as one test for the CI formats (JUnit, CTRF). CI counts tests, not verdicts: a
// quick run, an unaccepted skip, an attestation flag or a lost node has no failed check, and a
// job reading only the counts went green on an INCOMPLETE run. So the verdict is a test of its
// own that fails on NO-GO and on INCOMPLETE, carrying the decision and every reason, and passes
// only on GO. Pure.
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import type { Judgement } from "../judgement/types.js";
import { acceptedOverrideLines, runScope, scopeLine, scopeText, type RunScope } from "./scope.js";

export { VERDICT_CLASSNAME, VERDICT_NAME, VERDICT_SUITE } from "../../shared/junit-xml.js";

export interface VerdictCase {
  passed: boolean;
  /** One line: `INCOMPLETE: reason; reason…`, or `GO`. */
  message: string;
  /** Every reason, one a line (empty for GO). */
  reasons: string;
  scope: RunScope;
  /** `full` or `narrowed — …` (scope.ts). */
  scopeText: string;
  /** The scope line and one line per override accepted at sign-off. */
  scopeLines: string[];
}

export function verdictCase(run: RunRecord, j: Judgement): VerdictCase {
  const scope = runScope(run);
  const oneLine = (r: string) => r.replace(/\s*\r?\n\s*/g, " ").trim();
  return {
    passed: j.decision === "GO",
    message: (j.reasons.length ? `${j.decision}: ${j.reasons.map(oneLine).join("; ")}` : j.decision) + (j.waived.length ? ` (waived: ${j.waived.map(oneLine).join("; ")})` : ""),
    reasons: j.reasons.join("\n"),
    scope,
    scopeText: scopeText(scope),
    scopeLines: [scopeLine(scope), ...acceptedOverrideLines(scope)],
  };
}
