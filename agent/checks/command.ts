import { CommandSpecSchema, type CommandSpec } from "../../shared/model/kinds/command.js";
import { match, preview, type Matcher } from "../../shared/model/matchers.js";
import { runProcess, type ProcessOutcome } from "../process.js";
import { firstLine, processFailure, type CheckKind, type Verdict } from "./kind.js";

/** Follows a dotted path (`.a.b[0]` or `a.b.0`) into parsed JSON. */
export function jsonPath(value: unknown, path: string): unknown {
  const keys = path.replace(/\[(\d+)\]/g, ".$1").split(".").filter(Boolean);
  let cur: unknown = value;
  for (const k of keys) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function evaluateCommand(spec: CommandSpec, seen: ProcessOutcome & { timeoutMs: number }): Verdict {
  const broken = processFailure(seen, seen.timeoutMs);
  if (broken) return { passed: false, summary: broken };
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

export const commandCheck: CheckKind<CommandSpec, ProcessOutcome & { timeoutMs: number }> = {
  kind: "command",
  schema: CommandSpecSchema,
  async observe(spec, ctx) {
    const outcome = await runProcess({ argv: spec.argv, cwd: spec.cwd, env: spec.env, timeoutMs: ctx.timeoutMs, maxOutputBytes: ctx.maxOutputBytes });
    return { ...outcome, timeoutMs: ctx.timeoutMs };
  },
  evaluate: evaluateCommand,
  evidence: (seen) => ({ stdout: seen.stdout, stderr: seen.stderr }),
};
