import { bitcoinCliArgv, BitcoinSpecSchema, type BitcoinSpec } from "../../shared/model/kinds/bitcoin.js";
import { match } from "../../shared/model/matchers.js";
import { runProcess, type ProcessOutcome } from "../process.js";
import { describeCliError, parseCliResult, readings, shown } from "./bitcoin-cli-output.js";
import { jsonPath } from "./json-path.js";
import { processFailure, spawnOptions, type CheckKind, type Verdict } from "./kind.js";

type Observed = ProcessOutcome & { timeoutMs: number };

// The argv is built in shared/ so the coordinator's dry run prints exactly what runs here.
export { bitcoinCliArgv };

// A path that names something inside the result, as opposed to "" or "." for the result itself.
const reachesInside = (path: string) => path.replace(/[.[\]\s]/g, "") !== "";

function evaluateBitcoin(spec: BitcoinSpec, seen: Observed): Verdict {
  const broken = processFailure(seen, seen.timeoutMs);
  if (broken) return { passed: false, summary: broken };
  if (seen.exitCode !== 0) return { passed: false, summary: describeCliError(seen.stderr || seen.stdout, seen.exitCode) };
  const result = parseCliResult(seen.stdout);
  const expectations = Object.entries(spec.expect ?? {});
  if (expectations.some(([path]) => reachesInside(path)) && (result === null || typeof result !== "object")) {
    return { passed: false, summary: `expected a JSON object from ${spec.rpc}, saw ${shown(result)}` };
  }
  const misses: string[] = [];
  const held: string[] = [];
  for (const [path, matcher] of expectations) {
    const value = jsonPath(result, path);
    const outcomes = readings(path, value).map((v) => match(matcher, v ?? null));
    if (outcomes.some((o) => o.ok)) held.push(`${path} ${shown(value)}`);
    else misses.push(`expected ${path} ${outcomes[0]?.expected}, saw ${shown(value)}`);
  }
  // Every miss at once: a node mid-IBD is also behind on verificationprogress, and both matter.
  if (misses.length) return { passed: false, summary: misses.join("; ") };
  return { passed: true, summary: held.length ? `${spec.rpc}: ${held.join(", ")}` : `${spec.rpc} answered` };
}

export const bitcoinCheck: CheckKind<BitcoinSpec, Observed> = {
  kind: "bitcoin",
  schema: BitcoinSpecSchema,
  async observe(spec, ctx) {
    const outcome = await runProcess({ argv: bitcoinCliArgv(spec), timeoutMs: ctx.timeoutMs, ...spawnOptions(ctx) });
    return { ...outcome, timeoutMs: ctx.timeoutMs };
  },
  evaluate: evaluateBitcoin,
  evidence: (seen) => ({ stdout: seen.stdout, stderr: seen.stderr }),
};
