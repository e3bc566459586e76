// Puts fake tools first on PATH for a test and tells them which recorded fixture to replay.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
/** test/fixtures: the recorded real outputs (see its README for where each came from). */
export const FIXTURES = resolve(HERE, "../fixtures");
const REPLAY = join(HERE, "replay.mjs");

export interface ReplayRule {
  tool: string;
  /** Regex over the space-joined argv; omitted matches anything. */
  args?: string;
  /** Fixture base name under test/fixtures: replays .stdout, .stderr and .rc. */
  fixture?: string;
  /** Or one file replayed as stdout, with exit code rc. */
  stdout?: string;
  rc?: number;
}

export interface FakeTools {
  /** Environment that puts the fakes first on PATH; pass it to a child or merge it into process.env. */
  env: Record<string, string>;
  /** The argv each fake was called with, in order. */
  calls(): { tool: string; args: string[] }[];
  /** Replaces the rules (e.g. a unit goes from activating to active). */
  setRules(rules: ReplayRule[]): void;
  cleanup(): void;
}

export function fakeTools(tools: string[], rules: ReplayRule[]): FakeTools {
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-fakes-"));
  const bin = join(dir, "bin");
  const scenario = join(dir, "scenario.json");
  const log = join(dir, "calls.jsonl");
  mkdirSync(bin);
  chmodSync(REPLAY, 0o755);
  for (const t of tools) symlinkSync(REPLAY, join(bin, t));
  writeFileSync(log, "");
  const write = (r: ReplayRule[]) => writeFileSync(scenario, JSON.stringify({ fixtures: FIXTURES, log, rules: r }));
  write(rules);
  return {
    env: { PATH: `${bin}:${process.env.PATH ?? ""}`, FLEETGATE_FAKE_SCENARIO: scenario },
    calls: () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { tool: string; args: string[] }),
    setRules: write,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
