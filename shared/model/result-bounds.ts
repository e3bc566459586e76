// A CheckResult cut to RESULT_BUDGET, field by field, so it encodes within MAX_CHECK_RESULT_BYTES
// whatever the check printed. The agent applies it when it builds a result; the coordinator
// applies it again to what it receives, before storing it.
import { create, toBinary } from "@bufbuild/protobuf";
import { AttemptSchema, CheckResultSchema, TestCaseSchema, type Attempt, type CheckResult, type TestCase } from "../gen/fleetgate/v1/common_pb.js";
import { fieldBytes, MAX_CHECK_RESULT_BYTES, RESULT_BUDGET as B } from "./limits.js";
import { Status, statusName } from "./status.js";
import { keepHead, keepTail, utf8Bytes } from "./text-cut.js";

export interface BoundedResult {
  result: CheckResult;
  /** What was cut, for a log line: ["stdout_tail", "cases"]; empty when the result was within budget. */
  cut: string[];
}

const KEEP_FIRST = new Set<Status>([Status.FAILED, Status.ERROR]);

/** Cases within the budget: each name and message cut, then failed ones kept first, in their order. */
function boundCases(cases: TestCase[]): { kept: TestCase[]; cut: boolean } {
  let cut = false;
  const trimmed = cases.map((c) => {
    const name = keepHead(c.name, B.caseNameBytes);
    const message = keepHead(c.message, B.caseMessageBytes);
    if (name === c.name && message === c.message) return c;
    cut = true;
    return create(TestCaseSchema, { ...c, name, message });
  });
  const size = trimmed.map((c) => fieldBytes(toBinary(TestCaseSchema, c).length));
  if (size.reduce((a, b) => a + b, 0) <= B.casesBytes) return { kept: trimmed, cut };
  const order = trimmed.map((_, i) => i);
  order.sort((a, b) => Number(!KEEP_FIRST.has((trimmed[a] as TestCase).status)) - Number(!KEEP_FIRST.has((trimmed[b] as TestCase).status)) || a - b);
  const keep = new Set<number>();
  let used = 0;
  for (const i of order) {
    if (used + (size[i] as number) > B.casesBytes) continue;
    used += size[i] as number;
    keep.add(i);
  }
  return { kept: trimmed.filter((_, i) => keep.has(i)), cut: true };
}

/** The first attempt and the last ones, each summary cut. */
function boundAttempts(log: Attempt[]): { kept: Attempt[]; cut: boolean } {
  const chosen = log.length > B.attemptsKept ? [log[0] as Attempt, ...log.slice(log.length - (B.attemptsKept - 1))] : log;
  let cut = chosen !== log;
  const kept = chosen.map((a) => {
    const summary = keepHead(a.summary, B.attemptSummaryBytes);
    if (summary === a.summary) return a;
    cut = true;
    return create(AttemptSchema, { ...a, summary });
  });
  return { kept, cut };
}

/**
 * Captured values within the budget. A value is used by later steps, so one too large is
 * dropped, never cut: a step reading it fails naming it, instead of using a wrong value.
 */
function boundCaptured(captured: Record<string, string>): { kept: Record<string, string>; dropped: number } {
  const kept: Record<string, string> = {};
  let used = 0;
  let dropped = 0;
  for (const [name, value] of Object.entries(captured).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const entry = fieldBytes(fieldBytes(utf8Bytes(name)) + fieldBytes(utf8Bytes(value)));
    if (utf8Bytes(name) > B.capturedNameBytes || utf8Bytes(value) > B.capturedValueBytes || used + entry > B.capturedBytes) {
      dropped++;
      continue;
    }
    used += entry;
    kept[name] = value;
  }
  return { kept, dropped };
}

/**
 * Every CheckResult field, and how withinBudget judges it: a test holds this list to the schema,
 * so a field added to CheckResult and not judged here fails it instead of slipping past the budget.
 */
export const FIELDS_JUDGED_WITHOUT_ENCODING = [
  "checkId", "kind", "summary", "reason", "hint", "stdoutTail", "stderrTail", "runAs", // text within its budget
  "status", "precondition", "startedAtMs", "durationMs", "attempts", "unwaivedStatus", // scalars
  "cases", "captured", "waiver", // none
  "attemptLog", // few, each summary within its budget
] as const;

/**
 * Whether `r` is within RESULT_BUDGET as it is, judged without encoding it: the common result
 * (no test cases, captures or waiver, a short attempt log, every text within its budget). Such a
 * result encodes to at most RESULT_WORST_CASE_BYTES plus run_as (1 KiB) and a scalar, under
 * MAX_CHECK_RESULT_BYTES. Encoding each of 20,000 results to measure it was a tenth of a
 * coordinator's CPU at 1,000 agents.
 */
export function withinBudget(r: CheckResult): boolean {
  return (
    r.cases.length === 0 &&
    r.waiver === undefined &&
    Object.keys(r.captured).length === 0 &&
    r.attemptLog.length <= B.attemptsKept &&
    r.attemptLog.every((a) => utf8Bytes(a.summary) <= B.attemptSummaryBytes) &&
    utf8Bytes(r.checkId) <= B.idBytes &&
    utf8Bytes(r.kind) <= B.idBytes &&
    utf8Bytes(r.runAs) <= B.idBytes &&
    utf8Bytes(r.summary) <= B.summaryBytes &&
    utf8Bytes(r.reason) <= B.reasonBytes &&
    utf8Bytes(r.hint) <= B.hintBytes &&
    utf8Bytes(r.stdoutTail) <= B.outputTailBytes &&
    utf8Bytes(r.stderrTail) <= B.outputTailBytes
  );
}

/**
 * The result with every field within RESULT_BUDGET: text cut on a character boundary with a
 * `[… N bytes cut …]` marker (output tails keep their end, the rest its start), cases and
 * attempts thinned, and a note in the summary saying what was left out.
 */
export function boundCheckResult(r: CheckResult): BoundedResult {
  if (withinBudget(r)) return { result: r, cut: [] };
  const cut: string[] = [];
  const text = (field: string, value: string, bounded: string) => {
    if (bounded !== value) cut.push(field);
    return bounded;
  };
  const cases = boundCases(r.cases);
  const attempts = boundAttempts(r.attemptLog);
  const captured = boundCaptured(r.captured);
  if (cases.cut) cut.push("cases");
  if (attempts.cut) cut.push("attempt_log");
  if (captured.dropped) cut.push("captured");

  const notes: string[] = [];
  if (cases.kept.length < r.cases.length) notes.push(`${cases.kept.length} of ${r.cases.length} test cases kept`);
  if (attempts.kept.length < r.attemptLog.length) notes.push(`${attempts.kept.length} of ${r.attemptLog.length} attempts logged`);
  if (captured.dropped) notes.push(`${captured.dropped} captured value${captured.dropped > 1 ? "s" : ""} too large, dropped`);
  const note = notes.length ? ` [${notes.join("; ")}]` : "";

  const bounded = create(CheckResultSchema, {
    ...r,
    checkId: text("check_id", r.checkId, keepHead(r.checkId, B.idBytes)),
    kind: text("kind", r.kind, keepHead(r.kind, B.idBytes)),
    summary: text("summary", r.summary, keepHead(r.summary, B.summaryBytes - utf8Bytes(note))) + note,
    reason: text("reason", r.reason, keepHead(r.reason, B.reasonBytes)),
    hint: text("hint", r.hint, keepHead(r.hint, B.hintBytes)),
    stdoutTail: text("stdout_tail", r.stdoutTail, keepTail(r.stdoutTail, B.outputTailBytes)),
    stderrTail: text("stderr_tail", r.stderrTail, keepTail(r.stderrTail, B.outputTailBytes)),
    cases: cases.kept,
    attemptLog: attempts.kept,
    captured: captured.kept,
  });
  // RESULT_BUDGET adds up to less than the limit; this holds the line should a field be added
  // to CheckResult and forgotten here.
  const size = toBinary(CheckResultSchema, bounded).length;
  if (size > MAX_CHECK_RESULT_BYTES) return { result: oversizeResult(bounded, size, MAX_CHECK_RESULT_BYTES), cut: [...cut, "everything"] };
  return { result: bounded, cut };
}

/**
 * The last resort for a result too large to send: an error for the same check, naming the size
 * and the limit, with the outcome it had; its output and details are left out.
 */
export function oversizeResult(r: CheckResult, bytes: number, limit: number, why = "result too large to send"): CheckResult {
  const was = keepHead(r.summary, 1024);
  return create(CheckResultSchema, {
    checkId: keepHead(r.checkId, B.idBytes),
    kind: keepHead(r.kind, B.idBytes),
    precondition: r.precondition,
    startedAtMs: r.startedAtMs,
    durationMs: r.durationMs,
    attempts: r.attempts,
    status: Status.ERROR,
    summary: keepHead(`${why}: ${bytes} bytes encoded, limit ${limit}; output and details left out (it was ${statusName(r.status)}: ${was})`, B.summaryBytes),
  });
}
