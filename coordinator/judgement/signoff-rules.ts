// Whether a run may be signed off, and with which skips accepted. Pure: the decision `coord
// signoff` lives by, apart from the store that records it (coordinator/server/signoff.ts).
import { clone, create } from "@bufbuild/protobuf";
import { RunRecordSchema, SignOffSchema, type RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { isTerminal } from "../../shared/model/status.js";
import { acceptableNames, skipItems } from "./skips.js";
import type { Judgement } from "./types.js";

/** One skip accepted by name at sign-off. */
export interface Acceptance {
  target: string;
  reason: string;
}

export interface Refusal {
  /** bad_input: the request is wrong; conflict: the run cannot be signed off as it stands. */
  code: "bad_input" | "conflict";
  message: string;
}

/** The record of accepted skips: who decided is sign-off, each with the signer's reason. */
export function acceptedSkips(accept: Acceptance[]): { target: string; reason: string; source: string }[] {
  return accept.map((a) => ({ target: a.target.trim(), reason: a.reason.trim(), source: "sign-off" }));
}

/** The run as it reads once signed off: what the verdict must be GO for before it is recorded. */
export function withSignoff(run: RunRecord, by: string, accept: Acceptance[], atMs: number): RunRecord {
  const next = clone(RunRecordSchema, run);
  next.signoff = create(SignOffSchema, { by, atMs: BigInt(atMs), accepted: acceptedSkips(accept) });
  return next;
}

function acceptanceProblem(run: RunRecord, accept: Acceptance[]): string | undefined {
  const names = acceptableNames(run);
  const seen = new Set<string>();
  for (const a of accept) {
    const target = a.target.trim();
    if (!target) return "--accept-skip needs a target: a stage, matrix leg or STAGE/STEP that this run skipped";
    if (!a.reason.trim()) return `--accept-skip ${target} needs --reason TEXT: every accepted skip is recorded with why it is acceptable`;
    if (seen.has(target)) return `--accept-skip ${target} is given twice; accept each skip once`;
    seen.add(target);
    if (!names.includes(target)) {
      const known = names.length ? `skipped in it: ${names.join(", ")}` : "nothing was skipped in it";
      return `${target} was not skipped in run ${run.runId} (${known}); name a skip exactly as the report shows it`;
    }
  }
  return undefined;
}

/**
 * Why `run` may not be signed off with these acceptances, or undefined when it may. `judgement`
 * is the verdict of the run with the acceptances applied (judgeRun(withSignoff(…), flakes)).
 */
export function signoffRefusal(run: RunRecord, judgement: Judgement, accept: Acceptance[]): Refusal | undefined {
  const id = run.runId;
  const conflict = (message: string): Refusal => ({ code: "conflict", message });
  if (run.signoff?.by) {
    return conflict(`run ${id} is already signed off by ${run.signoff.by} at ${new Date(Number(run.signoff.atMs)).toISOString()}; a run is signed off once`);
  }
  if (!isTerminal(run.status)) return conflict(`run ${id} is still running; sign it off once it has finished (see it with: coord show ${id})`);
  if (run.mode === "quick") {
    return conflict(`run ${id} is a quick run (checks tagged quick only) and can never be signed off; run the gate without --quick and sign that run off`);
  }
  if (run.unsignable.length) return conflict(`run ${id} can never be signed off: ${run.unsignable.join("; ")}; run the gate again without it`);
  if (run.attestationFlags.length) {
    return conflict(`run ${id} is not valid for sign-off: ${run.attestationFlags.join("; ")}; fix the nodes' identity (coord nodes shows the flags) and run the gate again`);
  }
  const problem = acceptanceProblem(run, accept);
  if (problem) return { code: "bad_input", message: problem };
  if (judgement.decision !== "GO") {
    const accepted = new Set(accept.map((a) => a.target.trim()));
    const open = skipItems(run).filter((i) => !i.names.some((n) => accepted.has(n)));
    const hint = judgement.decision === "INCOMPLETE" && open.length ? `; a skip counts only once accepted by name: --accept-skip TARGET --reason TEXT (not accepted: ${open.map((i) => i.target).join(", ")})` : "";
    return conflict(`run ${id} is ${judgement.decision}, only a GO run can be signed off: ${judgement.reasons.join("; ")}${hint}`);
  }
  return undefined;
}
