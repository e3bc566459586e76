// Whether a run may be signed off, and with which skips accepted. Pure: the decision `coord
// signoff` lives by, apart from the store that records it (coordinator/runs/sign-off.ts).
import { clone, create } from "@bufbuild/protobuf";
import { RunRecordSchema, SignOffSchema, type RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { isTerminal } from "../../shared/model/status.js";
import { acceptableNames, skipItems } from "./skips.js";
import type { Judgement } from "./types.js";
import { overrideNeedsAcceptance } from "./verdict.js";

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

/**
 * The run as it reads once signed off: what the verdict must be GO for before it is recorded.
 * `accept` are skips accepted by name (--accept-skip), `overrides` narrowings (--accept-override).
 */
export function withSignoff(run: RunRecord, by: string, accept: Acceptance[], atMs: number, overrides: Acceptance[] = []): RunRecord {
  const next = clone(RunRecordSchema, run);
  next.signoff = create(SignOffSchema, { by, atMs: BigInt(atMs), accepted: acceptedSkips(accept), acceptedOverrides: acceptedSkips(overrides) });
  return next;
}

/** Override names `--accept-override` takes: those of the run that need accepting (see verdict.ts). */
export function acceptableOverrides(run: RunRecord): string[] {
  return [...new Set(run.overrides.map((o) => o.name).filter(overrideNeedsAcceptance))].sort();
}

function overrideProblem(run: RunRecord, accept: Acceptance[]): string | undefined {
  const names = acceptableOverrides(run);
  const seen = new Set<string>();
  for (const a of accept) {
    const name = a.target.trim();
    if (!a.reason.trim()) return `--accept-override ${name} needs --reason TEXT: every accepted override is recorded with why it is acceptable`;
    if (seen.has(name)) return `--accept-override ${name} is given twice; accept each override once`;
    seen.add(name);
    if (name.startsWith("skip:")) return `${name} is a skip: accept it with --accept-skip ${name.slice(5)} --reason TEXT`;
    if (!names.includes(name)) {
      const known = names.length ? `its overrides: ${names.join(", ")}` : "it ran the plan's full scope";
      return `run ${run.runId} has no override ${name} (${known}); accept each by one of those names (coord show RUN --json lists them)`;
    }
  }
  return undefined;
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
export function signoffRefusal(run: RunRecord, judgement: Judgement, accept: Acceptance[], overrides: Acceptance[] = []): Refusal | undefined {
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
  const problem = acceptanceProblem(run, accept) ?? overrideProblem(run, overrides);
  if (problem) return { code: "bad_input", message: problem };
  if (judgement.decision !== "GO") {
    const hints: string[] = [];
    if (judgement.decision === "INCOMPLETE") {
      const accepted = new Set(accept.map((a) => a.target.trim()));
      const open = skipItems(run).filter((i) => !i.names.some((n) => accepted.has(n)));
      if (open.length) hints.push(`a skip counts only once accepted by name: --accept-skip TARGET --reason TEXT (not accepted: ${open.map((i) => i.target).join(", ")})`);
      const acceptedOverrides = new Set(overrides.map((a) => a.target.trim()));
      const narrowed = acceptableOverrides(run).filter((n) => !acceptedOverrides.has(n));
      if (narrowed.length) hints.push(`a narrowed run counts only once each override is accepted by name: --accept-override NAME --reason TEXT (not accepted: ${narrowed.join(", ")})`);
    }
    return conflict(`run ${id} is ${judgement.decision}, only a GO run can be signed off: ${[judgement.reasons.join("; "), ...hints].join("; ")}`);
  }
  return undefined;
}
