// Reads TAP as bats prints it (`--tap`, and `--formatter tap13`), one case per test line.
// Tested on the recorded outputs in test/fixtures/bats/.
import type { TestCaseOutcome } from "./kind.js";

export interface TapReport {
  /** N from the plan line `1..N`; undefined when no plan was printed (bats never started). */
  planned?: number;
  cases: TestCaseOutcome[];
}

const PLAN = /^1\.\.(\d+)\b/;
const TEST = /^(not ok|ok)\b(?:\s+\d+)?\s*(?:-\s+)?(.*)$/;
const SKIP = /\s#\s*skip\b:?\s*(.*)$/i;
const YAML_START = /^\s+---\s*$/;
const YAML_END = /^\s+\.\.\.\s*$/;

interface OpenCase {
  outcome: TestCaseOutcome;
  diagnostics: string[];
  yaml: string[];
}

/** The `message: |` block of a TAP13 YAML diagnostic, dedented; undefined when there is none. */
function yamlMessage(lines: string[]): string | undefined {
  const at = lines.findIndex((l) => /^\s*message:/.test(l));
  if (at < 0) return undefined;
  // bats 1.8.2 writes the message as a `|` block (fixtures/bats/tap13.stdout); only that form is read.
  const keyIndent = (lines[at] as string).search(/\S/);
  const body: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (line.trim() !== "" && line.search(/\S/) <= keyIndent) break;
    body.push(line);
  }
  if (!body.some((l) => l.trim())) return undefined;
  const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.search(/\S/)));
  return body.map((l) => l.slice(indent)).join("\n").trimEnd();
}

function close(open: OpenCase | undefined): TestCaseOutcome[] {
  if (!open) return [];
  if (open.outcome.status === "failed") {
    open.outcome.message = yamlMessage(open.yaml) ?? open.diagnostics.join("\n").trimEnd();
  }
  return [open.outcome];
}

/** Pure: TAP text → plan count and cases. Lines that are not TAP are ignored. */
export function parseTap(text: string): TapReport {
  const report: TapReport = { cases: [] };
  let open: OpenCase | undefined;
  let inYaml = false;
  for (const line of text.split("\n")) {
    if (inYaml) {
      if (YAML_END.test(line)) inYaml = false;
      else open?.yaml.push(line);
      continue;
    }
    const plan = PLAN.exec(line);
    const test = TEST.exec(line);
    if (plan) report.planned = Number(plan[1]);
    else if (test) {
      report.cases.push(...close(open));
      open = { outcome: caseFromLine(test[1] === "ok", test[2] ?? ""), diagnostics: [], yaml: [] };
    } else if (open && line.startsWith("#")) open.diagnostics.push(line.replace(/^# ?/, ""));
    else if (open && YAML_START.test(line)) inYaml = true;
  }
  report.cases.push(...close(open));
  return report;
}

function caseFromLine(ok: boolean, rest: string): TestCaseOutcome {
  const skip = SKIP.exec(rest);
  // The SKIP directive wins over ok/not ok: bats 1.8.2's tap13 formatter prints a skipped
  // test as "not ok 3 … # SKIP reason" (fixtures/bats/tap13.stdout).
  if (skip) return { name: rest.slice(0, skip.index).trim(), status: "skipped", message: (skip[1] ?? "").trim() };
  return { name: rest.trim(), status: ok ? "passed" : "failed", message: "" };
}
