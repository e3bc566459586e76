// Process outcomes built from recorded fixtures, for testing a check's pure evaluate().
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ProcessOutcome } from "../../agent/process.js";
import { FIXTURES } from "./scenario.js";

/** Reads test/fixtures/<dir>/<rel> verbatim. */
export const fixtureIn = (dir: string) => (rel: string) => readFileSync(join(FIXTURES, dir, rel), "utf8");

/** An outcome with rc 0 and empty output unless overridden. */
export const outcome = (over: Partial<ProcessOutcome>) => ({ exitCode: 0, signal: null, stdout: "", stderr: "", timedOut: false, durationMs: 3, timeoutMs: 10_000, ...over });

/** A recorded run: NAME.stdout, NAME.stderr and NAME.rc. */
export const recordedIn = (fixture: (rel: string) => string) => (name: string) =>
  outcome({ stdout: fixture(`${name}.stdout`), stderr: fixture(`${name}.stderr`), exitCode: Number(fixture(`${name}.rc`)) });
