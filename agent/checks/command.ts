import { commandArgv, CommandSpecSchema, type CommandSpec } from "../../shared/model/kinds/command.js";
import { match, preview, type Matcher } from "../../shared/model/matchers.js";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { runProcess, type ProcessOutcome } from "../process.js";
import { parseJunitCases } from "./junit-cases.js";
import { jsonPath } from "./json-path.js";
import { firstLine, processFailure, spawnOptions, type CheckKind, type TestCaseOutcome, type Verdict } from "./kind.js";

type Observed = ProcessOutcome & { timeoutMs: number; junitXml?: string; junitError?: string };


function evaluateJunit(spec: CommandSpec, seen: Observed): Verdict {
  let cases: TestCaseOutcome[];
  try {
    if (seen.junitError) throw new Error(seen.junitError);
    cases = parseJunitCases(seen.junitXml ?? "");
  } catch (err) {
    return { passed: false, summary: `expected JUnit XML in ${spec.junit}, could not read it: ${(err as Error).message}` };
  }
  const failed = cases.filter((c) => c.status === "failed");
  const skipped = cases.filter((c) => c.status === "skipped").length;
  const counts = `${cases.length - failed.length - skipped}/${cases.length} tests passed${skipped ? `, ${skipped} skipped` : ""}`;
  const exit = match(spec.expect?.exit ?? 0, seen.exitCode);
  if (failed.length) return { passed: false, summary: `${counts}; failed: ${failed.map((c) => c.name).join(", ")}`, cases };
  if (!exit.ok) return { passed: false, summary: `${counts}, but expected exit ${exit.expected}, saw ${seen.exitCode}`, cases };
  return { passed: true, summary: counts, cases };
}

function evaluateCommand(spec: CommandSpec, seen: Observed): Verdict {
  const broken = processFailure(seen, seen.timeoutMs);
  if (broken) return { passed: false, summary: broken };
  if (spec.junit) return evaluateJunit(spec, seen);
  const expect = spec.expect ?? {};
  const exitWant: Matcher = expect.exit ?? 0;
  const exit = match(exitWant, seen.exitCode);
  if (!exit.ok) {
    const why = firstLine(seen.stderr) || firstLine(seen.stdout);
    return { passed: false, summary: `expected exit ${exit.expected}, saw ${seen.exitCode}${why ? `: ${why}` : ""}` };
  }
  for (const stream of ["stdout", "stderr"] as const) {
    const want = expect[stream];
    if (want === undefined) continue;
    const text = seen[stream].replace(/\n$/, "");
    const m = match(want, text);
    if (!m.ok) return { passed: false, summary: `expected ${stream} ${m.expected}, saw ${preview(text)}` };
  }
  if (expect.json) {
    let doc: unknown;
    try {
      doc = JSON.parse(seen.stdout);
    } catch {
      return { passed: false, summary: `expected JSON on stdout, saw ${preview(seen.stdout)}` };
    }
    for (const [path, want] of Object.entries(expect.json)) {
      const value = jsonPath(doc, path);
      const m = match(want, value ?? null);
      if (!m.ok) return { passed: false, summary: `expected ${path} ${m.expected}, saw ${preview(value ?? null)}` };
    }
  }
  return { passed: true, summary: `exit ${seen.exitCode}` };
}

async function readJunit(spec: CommandSpec, outcome: ProcessOutcome): Promise<Pick<Observed, "junitXml" | "junitError">> {
  if (!spec.junit) return {};
  if (spec.junit === "stdout") return { junitXml: outcome.stdout };
  try {
    return { junitXml: await readFile(resolve(spec.cwd ?? ".", spec.junit), "utf8") };
  } catch (err) {
    return { junitError: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
}

export const commandCheck: CheckKind<CommandSpec, Observed> = {
  kind: "command",
  schema: CommandSpecSchema,
  async observe(spec, ctx) {
    const outcome = await runProcess({ argv: commandArgv(spec), cwd: spec.cwd, env: spec.env, timeoutMs: ctx.timeoutMs, ...spawnOptions(ctx) });
    return { ...outcome, timeoutMs: ctx.timeoutMs, ...(await readJunit(spec, outcome)) };
  },
  evaluate: evaluateCommand,
  evidence: (seen) => ({ stdout: seen.stdout, stderr: seen.stderr }),
};
