// Secrets (values from `${env.X}`, vars marked secret) are replaced by *** on the agent, before a
// result is spooled, sent, logged or printed: only the agent knows the values, so only it can.
import type { CheckResult } from "../gen/fleetgate/v1/common_pb.js";

export const REDACTED = "***";

/**
 * Shorter values are not redacted: `${env.RETRIES}` = "1" would turn every "saw 1" in every output
 * into "saw ***", and a secret that short protects nothing.
 */
export const MIN_SECRET_LENGTH = 4;

/** The secrets worth hiding, longest first so a secret containing another is hidden whole. */
export function secretList(values: Iterable<string>): string[] {
  return [...new Set([...values].filter((v) => v.length >= MIN_SECRET_LENGTH))].sort((a, b) => b.length - a.length);
}

/** `text` with every occurrence of every secret replaced by ***. */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** Redacts every text a result carries, in place: summary, reason, hint, tails, cases, attempts, captures. */
export function redactResult(r: CheckResult, secrets: readonly string[]): CheckResult {
  if (!secrets.length) return r;
  const red = (t: string) => redactText(t, secrets);
  r.summary = red(r.summary);
  r.reason = red(r.reason);
  r.hint = red(r.hint);
  r.stdoutTail = red(r.stdoutTail);
  r.stderrTail = red(r.stderrTail);
  for (const c of r.cases) {
    c.name = red(c.name);
    c.message = red(c.message);
  }
  for (const a of r.attemptLog) a.summary = red(a.summary);
  for (const k of Object.keys(r.captured)) r.captured[k] = red(r.captured[k] as string);
  return r;
}
