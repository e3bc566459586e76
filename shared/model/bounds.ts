// Numeric bounds (`{ gte: 10GiB }`, `{ lte: 4 }`) for kinds that compare one measured number.
// Unlike the general matcher, several bounds may be given and all must hold: `{ gte: 1, lte: 90 }`.
import { z } from "zod";

export type Bounds<T> = { gte?: T; lte?: T; gt?: T; lt?: T };

const BOUND_OPS = {
  gte: { symbol: ">=", holds: (seen: number, want: number) => seen >= want },
  lte: { symbol: "<=", holds: (seen: number, want: number) => seen <= want },
  gt: { symbol: ">", holds: (seen: number, want: number) => seen > want },
  lt: { symbol: "<", holds: (seen: number, want: number) => seen < want },
} as const;

/** A strict `{ gte?, lte?, gt?, lt? }` block over `value`, with at least one bound. */
export function boundsSchema<T extends z.ZodType>(value: T) {
  return z
    .strictObject({ gte: value.optional(), lte: value.optional(), gt: value.optional(), lt: value.optional() })
    .refine((b) => Object.values(b).some((v) => v !== undefined), { message: "give at least one of gte, lte, gt, lt" });
}

export const NumberBoundsSchema = boundsSchema(z.number());
export type NumberBounds = Bounds<number>;

export interface BoundsOutcome {
  ok: boolean;
  /** The first bound that failed, or all of them when every one holds: ">= 10 GiB". */
  expected: string;
}

/** Pure: does `seen` satisfy every bound? `toNumber` and `show` let sizes reuse this. */
export function checkBounds<T>(bounds: Bounds<T>, seen: number, toNumber: (v: T) => number, show: (v: T) => string): BoundsOutcome {
  const parts: string[] = [];
  for (const op of Object.keys(BOUND_OPS) as (keyof typeof BOUND_OPS)[]) {
    const want = bounds[op];
    if (want === undefined) continue;
    const text = `${BOUND_OPS[op].symbol} ${show(want)}`;
    if (!BOUND_OPS[op].holds(seen, toNumber(want))) return { ok: false, expected: text };
    parts.push(text);
  }
  return { ok: true, expected: parts.join(" and ") };
}

/** Number bounds shown as written: `<= 4`. */
export function checkNumberBounds(bounds: NumberBounds, seen: number): BoundsOutcome {
  return checkBounds(bounds, seen, (v) => v, String);
}

/** A measured number rounded for reading, unless rounding would make a failure read "<= 4, saw 4". */
export function showMeasured(seen: number, outcome: BoundsOutcome, digits = 2): string {
  const rounded = String(Number(seen.toFixed(digits)));
  return !outcome.ok && outcome.expected.endsWith(` ${rounded}`) ? String(seen) : rounded;
}
