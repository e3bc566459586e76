// How many checks of one task run at once: the agent's bound (--concurrency, FLEETGATE_AGENT_CONCURRENCY,
// concurrency: in agent.yaml), which a suite's own `concurrency:` may lower (run-suite.ts).
import { availableParallelism } from "node:os";
import { MAX_SUITE_CONCURRENCY } from "../../shared/model/limits.js";

/** At most this many checks of one task run at once unless the agent is told otherwise. */
export const MAX_DEFAULT_CONCURRENCY = 8;

/** Twice the cores, at most MAX_DEFAULT_CONCURRENCY: checks mostly wait on programs and sockets, not on the CPU. */
export function defaultConcurrency(cores = availableParallelism()): number {
  return Math.max(1, Math.min(2 * cores, MAX_DEFAULT_CONCURRENCY));
}

/** A number of checks given as a flag, an env variable or a config value; throws saying what it takes. */
export function parseConcurrency(value: string | number): number {
  const n = typeof value === "number" ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_SUITE_CONCURRENCY) {
    throw new Error(`expected a whole number of checks from 1 to ${MAX_SUITE_CONCURRENCY} (1 runs them one after the other), got ${JSON.stringify(value)}`);
  }
  return n;
}
