// Pure: flags that each need the --reason typed after them (`coord run --skip`, `coord signoff
// --accept-skip/--accept-override`). commander keeps each option's values apart, so the commands
// record every such flag in the order typed, and the pairing happens here.
import { FleetgateError } from "../../shared/errors.js";

/** One flag as typed: `reason`, or a flag that needs one (`skip`, `accept-skip`, …). */
export interface ReasonToken<F extends string> {
  flag: F | "reason";
  value: string;
}

export interface Reasoned<F extends string> {
  flag: F;
  target: string;
  reason: string;
}

/** How messages explain the flags: what a reason is for, and an example of the right order. */
export interface ReasonUsage {
  why: string;
  example: string;
}

/**
 * Pairs each flag with the --reason that follows it (other flags may sit between). A flag without
 * a reason is refused: the reason is printed in every report, and "skipped" or "accepted" with no
 * why is exactly what a gate must not allow.
 */
export function pairReasons<F extends string>(tokens: readonly ReasonToken<F>[], usage: ReasonUsage): Reasoned<F>[] {
  const out: Reasoned<F>[] = [];
  let open: { flag: F; target: string } | undefined;
  const needsReason = (o: { flag: F; target: string }) => new FleetgateError("bad_input", `--${o.flag} ${o.target} needs --reason TEXT (${usage.why})`);
  for (const t of tokens) {
    if (t.flag !== "reason") {
      if (open) throw needsReason(open);
      if (!t.value.trim()) throw new FleetgateError("bad_input", `--${t.flag} needs a value, e.g. ${usage.example}`);
      open = { flag: t.flag, target: t.value.trim() };
    } else {
      if (!open) throw new FleetgateError("bad_input", `--reason "${t.value}" follows no ${flagsOf(usage)}; write ${usage.example}`);
      if (!t.value.trim()) throw needsReason(open);
      out.push({ ...open, reason: t.value.trim() });
      open = undefined;
    }
  }
  if (open) throw needsReason(open);
  return out;
}

function flagsOf(usage: ReasonUsage): string {
  return [...usage.example.matchAll(/--(?!reason)[a-z-]+/g)].map((m) => m[0]).join(" or ");
}

/** Records each flag in the order typed, for commander's `.option(…, recorder("skip"))`. */
export function reasonRecorder<F extends string>(tokens: ReasonToken<F>[]) {
  return (flag: F | "reason") => (value: string) => {
    tokens.push({ flag, value });
    return value;
  };
}
