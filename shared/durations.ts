import { FleetgateError } from "./errors.js";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;
const N = String.raw`\d+(?:\.\d+)?`;
/**
 * One duration: a number and a unit, or several largest first, each once ("1m30s", "1h30m",
 * "2d12h"). The schemas check with this very pattern, so what passes them always parses.
 */
export const DURATION_PATTERN = new RegExp(`^(?=\\d)(?:${N}d)?(?:${N}h)?(?:${N}m(?!s))?(?:${N}s)?(?:${N}ms)?$`);
/** Units in any order, repeats too: only to say what is wrong with such a duration. */
const UNORDERED = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const EXPECTED = "expected a duration like 500ms, 30s, 5m, 1h or 1m30s";

/** "500ms", "30s", "5m", "1h", "7d", "1m30s" → milliseconds. A bare number is refused: 5 what? */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(t)) throw new FleetgateError("bad_input", `${EXPECTED}; got "${text}", a number without a unit: did you mean ${t}s?`);
  if (!DURATION_PATTERN.test(t)) {
    // "30s1m" or "1m1m" is more likely a typo than a sum someone meant.
    if (UNORDERED.test(t)) throw new FleetgateError("bad_input", `${EXPECTED}, largest unit first and each unit once; got "${text}"`);
    throw new FleetgateError("bad_input", `${EXPECTED}; got "${text}"`);
  }
  let ms = 0;
  for (const [, amount, unit] of t.matchAll(PART)) ms += Number(amount) * UNIT_MS[unit as Unit];
  return Math.round(ms);
}

/** 7_200_000 → "2 h"; for messages, not for parsing. */
export function humanDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)} ms`;
  if (abs < 60_000) return `${(abs / 1000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  if (abs < 3_600_000) return `${Math.round(abs / 60_000)} min`;
  if (abs < 86_400_000) return `${Math.round(abs / 3_600_000)} h`;
  return `${Math.round(abs / 86_400_000)} d`;
}

/** 60_000 → "1m", 1500 → "1500ms": the plan's own notation, in the largest unit that is exact. */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
