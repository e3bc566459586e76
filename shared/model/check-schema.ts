// The fields every check-like block shares — suite checks, `then:` follow-ups, cross-node
// steps, matrix legs and probes — so a field means the same thing wherever it appears.
import { z } from "zod";
import { DURATION_PATTERN, parseDuration } from "../durations.js";
import { LimitsSchema } from "./check-limits.js";
import { RegexSchema } from "./regex.js";
import { UserSchema } from "./run-as.js";
import { KIND_NAMES, KIND_SCHEMAS, type KindName } from "./kinds/index.js";

// A bare number in YAML (`timeout: 30`) is a duration without its unit, not a string to quote.
const durationTypeError = (iss: { input?: unknown }) =>
  typeof iss.input === "number" ? `expected a duration like 500ms, 30s, 5m, 1h, got ${iss.input}, a number without a unit: did you mean ${iss.input}s?` : undefined;
export const DurationSchema = z.string({ error: durationTypeError }).regex(DURATION_PATTERN, { message: "expected a duration like 500ms, 30s, 5m, 1h" });

/** Milliseconds of a duration the pattern accepted, or undefined when its parts do not add up. */
function durationMs(text: string): number | undefined {
  try {
    return parseDuration(text);
  } catch {
    return undefined;
  }
}

/** A timeout or retry window: 0s would end before anything ran. */
const PositiveDurationSchema = DurationSchema.refine((d) => durationMs(d) !== 0, { message: "must be more than 0 (0 would end before anything ran)" });

export const IdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { message: "ids use letters, digits, '.', '_' and '-'" });

/** Eventually-semantics: keep trying until it passes or the window closes. */
export const RetrySchema = z.strictObject({ for: PositiveDurationSchema, every: PositiveDurationSchema.optional() }).superRefine((r, ctx) => {
  const [window, every] = [durationMs(r.for), r.every === undefined ? undefined : durationMs(r.every)];
  if (window !== undefined && every !== undefined && every > window) {
    ctx.addIssue({ code: "custom", path: ["every"], message: `every: ${r.every} is longer than for: ${r.for}, so it would never try again; make every at most ${r.for}` });
  }
});

/** Named values pulled from a passing check's output, usable later as `${role.name}`. */
export const CaptureSchema = z.record(
  z.string().regex(/^[A-Za-z_][\w-]*$/, { message: "capture names use letters, digits, '_' and '-'" }),
  z.union([
    z.strictObject({ json: z.string() }),
    z.strictObject({ regex: RegexSchema }),
    z.strictObject({ file: z.string() }),
  ]),
);
export type Capture = z.infer<typeof CaptureSchema>;

export const kindBlocks = () =>
  Object.fromEntries(KIND_NAMES.map((k) => [k, KIND_SCHEMAS[k].optional()])) as {
    [K in KindName]: z.ZodOptional<(typeof KIND_SCHEMAS)[K]>;
  };

export const COMMON_FIELDS = ["timeout", "retry", "limits", "user", "destructive", "tags", "hint", "capture"] as const;

export const commonCheckFields = () => ({
  timeout: PositiveDurationSchema.optional(),
  retry: RetrySchema.optional(),
  limits: LimitsSchema.optional(),
  /** The user its programs run as (shared/model/run-as.ts); the suite's user: when absent. */
  user: UserSchema.optional(),
  destructive: z.boolean().optional(),
  tags: z.array(z.string()).optional(),
  hint: z.string().optional(),
  capture: CaptureSchema.optional(),
  ...kindBlocks(),
});

/** The kinds present in a block. */
export function kindsOf(block: Record<string, unknown>): KindName[] {
  return KIND_NAMES.filter((k) => block[k] !== undefined);
}

/** Refinement: exactly one kind block. `required: false` allows none (e.g. a leg with `suite:`). */
export function requireOneKind(block: Record<string, unknown>, ctx: z.RefinementCtx, required = true): void {
  const kinds = kindsOf(block);
  if (kinds.length > 1) ctx.addIssue({ code: "custom", message: `a check has exactly one kind block, found ${kinds.join(" and ")}` });
  else if (required && kinds.length === 0) ctx.addIssue({ code: "custom", message: `a check needs one kind block: ${KIND_NAMES.join(", ")}` });
}

export function unknownKeyMessage(fields: readonly string[]) {
  return (iss: { code: string; keys?: string[] }) =>
    iss.code === "unrecognized_keys"
      ? `unknown check kind or field "${iss.keys?.[0]}"; kinds: ${KIND_NAMES.join(", ")}; fields: ${fields.join(", ")}`
      : undefined;
}

/** `then:` — a follow-up check run after its parent passes (a restart, then "it came back"). */
export const ThenSchema = z
  .strictObject({ timeout: PositiveDurationSchema.optional(), retry: RetrySchema.optional(), limits: LimitsSchema.optional(), ...kindBlocks() }, { error: unknownKeyMessage(["timeout", "retry", "limits"]) })
  .superRefine((b, ctx) => requireOneKind(b, ctx));
