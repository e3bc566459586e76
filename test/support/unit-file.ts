// A systemd unit file read the way the tests need it: each [Section]'s keys with every value in
// order (ExecStart=, ConditionPathExists= and others may repeat). Comments and blank lines are
// dropped; a line ending in a backslash continues on the next one, as systemd reads it.
import { readFileSync } from "node:fs";

export type UnitFile = Map<string, Map<string, string[]>>;

export function parseUnitFile(text: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.replace(/\\\n/g, " ").split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = unit.get(header[1]!) ?? new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf("=");
    if (!section || eq < 1) throw new Error(`unit file line ${i + 1}: expected [Section] or Key=value, got "${line}"`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

export function readUnitFile(path: string): UnitFile {
  return parseUnitFile(readFileSync(path, "utf8"));
}

/** Every value of `key` in `section` (empty when absent). */
export function unitValues(unit: UnitFile, section: string, key: string): string[] {
  return unit.get(section)?.get(key) ?? [];
}

/** The last value of `key`, which is the one systemd uses for single-valued settings. */
export function unitValue(unit: UnitFile, section: string, key: string): string | undefined {
  return unitValues(unit, section, key).at(-1);
}

/**
 * ExecStart='s argv as systemd splits it: words separated by spaces, double or single quotes
 * grouping. Prefixes (-, @, +, !, :) and specifiers are refused rather than half-understood.
 */
export function execArgv(line: string): string[] {
  if (/^[-@+!:]/.test(line) || line.includes("%") || line.includes("$")) throw new Error(`ExecStart= "${line}": prefixes, specifiers and variables are not supported here`);
  const words: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}
