import { z } from "zod";
import { RegexSchema } from "./regex.js";

// A plain value means "equal"; an object with exactly one operator key means that operator.
const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const Operator = z
  .strictObject({
    gte: z.number().optional(),
    lte: z.number().optional(),
    gt: z.number().optional(),
    lt: z.number().optional(),
    matches: RegexSchema.optional(),
    contains: z.string().optional(),
    one_of: z.array(z.unknown()).optional(),
  })
  .refine((o) => Object.keys(o).length === 1, { message: "a matcher takes exactly one of gte, lte, gt, lt, matches, contains, one_of" });

export const MatcherSchema = z.union([Scalar, z.array(z.unknown()), Operator]);
export type Matcher = z.infer<typeof MatcherSchema>;

/**
 * A matcher over a whole number the node reports (an HTTP status, an exit code, a restart count):
 * the number itself or a numeric operator, never text or a list, which would never match (`status:
 * ok` and `exit: [0, 1]` were once accepted and run). `what` and `examples` are for messages.
 */
export function integerMatcherSchema(min: number, max: number, what: string, examples: string) {
  const help = `${what}, or a matcher over it: ${examples}`;
  const got = (iss: { input?: unknown }) => `expected ${help}, got ${JSON.stringify(iss.input) ?? "nothing"}`;
  const Int = z.number({ error: got }).int({ error: got }).min(min, { error: got }).max(max, { error: got });
  const Ops = z
    .strictObject({ gte: Int.optional(), lte: Int.optional(), gt: Int.optional(), lt: Int.optional(), one_of: z.array(Int).min(1).optional() })
    .refine((o) => Object.keys(o).length === 1, { message: "a matcher takes exactly one of gte, lte, gt, lt, one_of" });
  return z.union([Int, Ops], { error: got });
}

export interface MatchOutcome {
  ok: boolean;
  /** What was expected, for "expected X, saw Y". */
  expected: string;
}

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Output is text: `stdout: 42` in YAML is a number but means the text "42". */
function scalarEqual(want: unknown, seen: unknown): boolean {
  if (typeof want === "number" && typeof seen === "string") return seen.trim() !== "" && Number(seen.trim()) === want;
  if (typeof want === "boolean" && typeof seen === "string") return seen.trim() === String(want);
  return deepEqual(want, seen);
}

/** Pure: does `seen` satisfy `matcher`? */
export function match(matcher: Matcher, seen: unknown): MatchOutcome {
  if (matcher === null || typeof matcher !== "object" || Array.isArray(matcher)) {
    return { ok: scalarEqual(matcher, seen), expected: show(matcher) };
  }
  const [op, want] = Object.entries(matcher)[0] as [string, unknown];
  const n = typeof seen === "number" ? seen : typeof seen === "string" && seen.trim() !== "" ? Number(seen) : NaN;
  switch (op) {
    case "gte":
      return { ok: n >= (want as number), expected: `>= ${want}` };
    case "lte":
      return { ok: n <= (want as number), expected: `<= ${want}` };
    case "gt":
      return { ok: n > (want as number), expected: `> ${want}` };
    case "lt":
      return { ok: n < (want as number), expected: `< ${want}` };
    case "matches":
      return { ok: (typeof seen === "string" || typeof seen === "number") && new RegExp(want as string, "m").test(String(seen)), expected: `matching /${want}/` };
    case "contains":
      return { ok: typeof seen === "string" && seen.includes(want as string), expected: `containing ${show(want)}` };
    case "one_of":
      return { ok: (want as unknown[]).some((w) => deepEqual(w, seen)), expected: `one of ${show(want)}` };
    default:
      return { ok: false, expected: `unknown matcher ${op}` };
  }
}

/** Shortens output for "saw ..." so one line stays one line. */
export function preview(value: unknown, max = 80): string {
  const text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
