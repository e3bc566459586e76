// Byte sizes as people write them in suites: 10GiB, 500MiB, 1.5TB, or a plain number of bytes.
import { z } from "zod";
import { FleetgateError } from "../errors.js";
import { boundsSchema, checkBounds, type Bounds, type BoundsOutcome } from "./bounds.js";

const BINARY = { KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 } as const;
const DECIMAL = { KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 } as const;
const UNIT_BYTES: Record<string, number> = { ...BINARY, ...DECIMAL };

// Case matters: "Gb" would be gigabits, so only these exact spellings are accepted.
export const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*(KiB|MiB|GiB|TiB|KB|MB|GB|TB)?$/;
const SIZE_HELP = "expected a size like 10GiB, 500MiB, 1.5TB or a number of bytes";

export const SizeSchema = z.union([z.number().nonnegative(), z.string().regex(SIZE_PATTERN, { message: SIZE_HELP })]);
export type Size = z.infer<typeof SizeSchema>;

export const SizeBoundsSchema = boundsSchema(SizeSchema);
export type SizeBounds = Bounds<Size>;

/** "10GiB" → 10737418240, "1.5TB" → 1500000000000, 4096 or "4096" → 4096. */
export function parseSize(size: Size): number {
  if (typeof size === "number") {
    if (!Number.isFinite(size) || size < 0) throw new FleetgateError("bad_input", `${SIZE_HELP}; got ${size}`);
    return Math.round(size);
  }
  const m = SIZE_PATTERN.exec(size.trim());
  if (!m) throw new FleetgateError("bad_input", `${SIZE_HELP}; got "${size}"`);
  return Math.round(Number(m[1]) * (m[2] ? (UNIT_BYTES[m[2]] as number) : 1));
}

type UnitSystem = "binary" | "decimal";

/** A size as written, spaced for reading: "10GiB" → "10 GiB"; a plain number is formatted. */
export function showSize(size: Size): string {
  const m = typeof size === "string" ? SIZE_PATTERN.exec(size.trim()) : null;
  return m?.[2] ? `${m[1]} ${m[2]}` : formatSize(parseSize(size));
}

/** The unit system a written size uses, so "saw" can be shown in the same units as "expected". */
export function unitSystemOf(size: Size): UnitSystem {
  const unit = typeof size === "string" ? SIZE_PATTERN.exec(size.trim())?.[2] : undefined;
  return unit && unit in DECIMAL ? "decimal" : "binary";
}

/** 3435973837 → "3.2 GiB" (or "3.4 GB" in decimal); under 1 KiB → "512 B". */
export function formatSize(bytes: number, system: UnitSystem = "binary"): string {
  const units = Object.entries(system === "binary" ? BINARY : DECIMAL).reverse();
  for (const [unit, factor] of units) {
    if (bytes >= factor) return `${Number((bytes / factor).toFixed(1))} ${unit}`;
  }
  return `${bytes} B`;
}

export interface SizeOutcome extends BoundsOutcome {
  /** The measured size, in the units the bound was written in. */
  seen: string;
}

/** Pure: compares measured bytes with size bounds, for "expected free >= 10 GiB, saw 3.2 GiB". */
export function checkSizeBounds(bounds: SizeBounds, bytes: number): SizeOutcome {
  const written = Object.values(bounds).find((v): v is Size => v !== undefined);
  const system = written === undefined ? "binary" : unitSystemOf(written);
  const outcome = checkBounds(bounds, bytes, parseSize, showSize);
  let seen = formatSize(bytes, system);
  // 9.99 GiB rounds to "10 GiB": a failure must not read "expected >= 10 GiB, saw 10 GiB".
  if (outcome.expected.endsWith(` ${seen}`)) seen += ` (${bytes} bytes)`;
  return { ...outcome, seen };
}
