import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AttemptSchema, CheckResultSchema, TestCaseSchema, WaiverSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { CHANNEL_OPTIONS } from "../../shared/grpc/adapter.js";
import { MAX_AGENT_EVENT_BYTES, MAX_CHECK_RESULT_BYTES, MAX_GRPC_MESSAGE_BYTES, RESULT_BUDGET as B, RESULT_WORST_CASE_BYTES } from "../../shared/model/limits.js";
import { boundCheckResult, FIELDS_JUDGED_WITHOUT_ENCODING, oversizeResult, withinBudget } from "../../shared/model/result-bounds.js";
import { Status } from "../../shared/model/status.js";
import { utf8Bytes } from "../../shared/model/text-cut.js";

const encoded = (r: Parameters<typeof toBinary<typeof CheckResultSchema>>[1]) => toBinary(CheckResultSchema, r).length;

/** Text from empty to several MB: repeats of characters of every width, U+FFFD and lone surrogates. */
const anyText = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.array(fc.constantFrom("a", "\n", "é", "€", "\uFFFD", "😀", "\uD800", "\uDFFF"), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 150_000 }))
      .map(([cs, n]) => cs.join("").repeat(n)),
  },
);
const smallOrHugeText = fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 20 }) }, { weight: 1, arbitrary: anyText });
const status = fc.constantFrom(Status.PASSED, Status.FAILED, Status.SKIPPED, Status.ERROR);

const testCase = fc.record({ name: smallOrHugeText, status, message: smallOrHugeText, durationMs: fc.bigInt(0n, 10n ** 12n) }).map((c) => create(TestCaseSchema, c));
const attempt = fc.record({ startedAtMs: fc.bigInt(0n, 10n ** 13n), durationMs: fc.bigInt(-1n, 10n ** 12n), passed: fc.boolean(), summary: smallOrHugeText }).map((a) => create(AttemptSchema, a));

const checkResult = fc
  .record({
    checkId: smallOrHugeText,
    kind: smallOrHugeText,
    status,
    summary: anyText,
    reason: anyText,
    hint: smallOrHugeText,
    precondition: fc.boolean(),
    startedAtMs: fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n),
    durationMs: fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n),
    attempts: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    stdoutTail: anyText,
    stderrTail: anyText,
    cases: fc.oneof(fc.array(testCase, { maxLength: 30 }), fc.tuple(testCase, fc.integer({ min: 0, max: 5000 })).map(([c, n]) => Array.from({ length: n }, () => c))),
    attemptLog: fc.oneof(fc.array(attempt, { maxLength: 10 }), fc.tuple(attempt, fc.integer({ min: 0, max: 2000 })).map(([a, n]) => Array.from({ length: n }, () => a))),
    captured: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), smallOrHugeText, { maxKeys: 40 }),
  })
  .map((r) => create(CheckResultSchema, r));

describe("a result judged within budget without encoding it", () => {
  const TEXT_BUDGETS = { checkId: B.idBytes, kind: B.idBytes, runAs: B.idBytes, summary: B.summaryBytes, reason: B.reasonBytes, hint: B.hintBytes, stdoutTail: B.outputTailBytes, stderrTail: B.outputTailBytes };
  /** Every text at its budget in 3-byte characters (and one byte to make it up), the attempt log full. */
  const fullest = () =>
    create(CheckResultSchema, {
      ...Object.fromEntries(Object.entries(TEXT_BUDGETS).map(([field, bytes]) => [field, "€".repeat(Math.floor(bytes / 3)) + "a".repeat(bytes % 3)])),
      status: Status.FAILED,
      startedAtMs: -1n,
      durationMs: -1n,
      attempts: -1,
      unwaivedStatus: Status.FAILED,
      precondition: true,
      attemptLog: Array.from({ length: B.attemptsKept }, () => create(AttemptSchema, { startedAtMs: -1n, durationMs: -1n, passed: true, summary: "é".repeat(B.attemptSummaryBytes / 2) })),
    });

  it("judges every field CheckResult has: a field added to the schema must be judged too", () => {
    expect([...FIELDS_JUDGED_WITHOUT_ENCODING].sort()).toEqual(CheckResultSchema.fields.map((f) => f.localName).sort());
  });

  it("is returned as it is, and encodes within MAX_CHECK_RESULT_BYTES even with every field at its budget", () => {
    const r = fullest();
    expect(withinBudget(r)).toBe(true);
    expect(boundCheckResult(r)).toEqual({ result: r, cut: [] });
    expect(encoded(r)).toBeLessThanOrEqual(MAX_CHECK_RESULT_BYTES);
  });

  it("is not one with any text a byte over its budget, a test case, a capture, a waiver or one attempt too many: those are cut field by field", () => {
    for (const field of Object.keys(TEXT_BUDGETS)) {
      const r = fullest();
      (r as unknown as Record<string, string>)[field] += "a";
      expect(withinBudget(r), field).toBe(false);
    }
    const more = [
      (r: ReturnType<typeof fullest>) => r.cases.push(create(TestCaseSchema, { name: "t" })),
      (r: ReturnType<typeof fullest>) => (r.captured.k = "v"),
      (r: ReturnType<typeof fullest>) => (r.waiver = create(WaiverSchema, { checkId: "c" })),
      (r: ReturnType<typeof fullest>) => r.attemptLog.push(create(AttemptSchema)),
      (r: ReturnType<typeof fullest>) => (r.attemptLog[0]!.summary += "a"),
    ];
    for (const change of more) {
      const r = fullest();
      change(r);
      expect(withinBudget(r), String(change)).toBe(false);
    }
  });
});

describe("a CheckResult is bounded in encoded bytes by construction", () => {
  it("the budgets add up to less than the result limit, and an event stays under the gRPC limit both ends use", () => {
    expect(RESULT_WORST_CASE_BYTES).toBeLessThanOrEqual(MAX_CHECK_RESULT_BYTES);
    expect(MAX_AGENT_EVENT_BYTES).toBeLessThan(MAX_GRPC_MESSAGE_BYTES);
    expect(CHANNEL_OPTIONS["grpc.max_send_message_length"]).toBe(MAX_GRPC_MESSAGE_BYTES);
    expect(CHANNEL_OPTIONS["grpc.max_receive_message_length"]).toBe(MAX_GRPC_MESSAGE_BYTES);
  });

  it("encodes within MAX_CHECK_RESULT_BYTES and every field within its budget, whatever the fields hold", () => {
    fc.assert(
      fc.property(checkResult, (r) => {
        const { result, cut } = boundCheckResult(r);
        expect(encoded(result)).toBeLessThanOrEqual(MAX_CHECK_RESULT_BYTES);
        // The budgets alone do it: the last-resort error result is never needed.
        expect(cut).not.toContain("everything");
        expect(result.status).toBe(r.status);
        expect(utf8Bytes(result.stdoutTail)).toBeLessThanOrEqual(B.outputTailBytes);
        expect(utf8Bytes(result.stderrTail)).toBeLessThanOrEqual(B.outputTailBytes);
        expect(utf8Bytes(result.summary)).toBeLessThanOrEqual(B.summaryBytes);
        expect(utf8Bytes(result.reason)).toBeLessThanOrEqual(B.reasonBytes);
        expect(result.attemptLog.length).toBeLessThanOrEqual(B.attemptsKept);
        for (const v of Object.values(result.captured)) expect(utf8Bytes(v)).toBeLessThanOrEqual(B.capturedValueBytes);
        // Bounded once is bounded: the coordinator cutting again changes nothing.
        expect(boundCheckResult(result).cut).toEqual([]);
      }),
      { numRuns: 50 },
    );
  }, 120_000);

  it("leaves a result within budget exactly as it was", () => {
    const r = create(CheckResultSchema, { checkId: "echo", kind: "command", status: Status.PASSED, summary: "exit 0", stdoutTail: "hello\n", captured: { v: "1" } });
    const { result, cut } = boundCheckResult(r);
    expect(cut).toEqual([]);
    expect(result).toEqual(r);
  });

  it("keeps the end of each output tail and the start of the summary, with markers", () => {
    const r = create(CheckResultSchema, {
      checkId: "noisy",
      status: Status.FAILED,
      summary: `expected exit 0, saw 1: ${"\uFFFD".repeat(1_000_000)}`,
      stdoutTail: `${"\uFFFD".repeat(1_000_000)}last line\n`,
      stderrTail: "\uFFFD".repeat(1_000_000),
    });
    const { result, cut } = boundCheckResult(r);
    expect(cut).toEqual(["summary", "stdout_tail", "stderr_tail"]);
    expect(result.stdoutTail).toMatch(/^\[… \d+ bytes cut …\]\n\uFFFD+last line\n$/);
    expect(result.summary).toMatch(/^expected exit 0, saw 1: \uFFFD+ \[… \d+ bytes cut …\]$/);
    expect(encoded(result)).toBeLessThanOrEqual(MAX_CHECK_RESULT_BYTES);
  });

  it("keeps failed test cases first when the cases are over budget, in their order, and says how many were kept", () => {
    const passed = Array.from({ length: 3000 }, (_, i) => create(TestCaseSchema, { name: `ok ${i}`, status: Status.PASSED, message: "x".repeat(200) }));
    const failed = [7, 1500, 2999].map((i) => create(TestCaseSchema, { name: `broken ${i}`, status: Status.FAILED, message: "y".repeat(200) }));
    const cases = [...passed.slice(0, 7), failed[0]!, ...passed.slice(7, 1500), failed[1]!, ...passed.slice(1500), failed[2]!];
    const { result } = boundCheckResult(create(CheckResultSchema, { checkId: "bats", status: Status.FAILED, summary: "3000/3003 passed", cases }));
    const names = result.cases.map((c) => c.name);
    expect(names.filter((n) => n.startsWith("broken"))).toEqual(["broken 7", "broken 1500", "broken 2999"]);
    expect(names.indexOf("broken 7")).toBe(7);
    expect(result.summary).toBe(`3000/3003 passed [${result.cases.length} of 3003 test cases kept]`);
    expect(result.cases.length).toBeLessThan(3003);
  });

  it("logs the first attempt and the last ones of a long retry", () => {
    const attemptLog = Array.from({ length: 600 }, (_, i) => create(AttemptSchema, { startedAtMs: BigInt(i), summary: `try ${i}` }));
    const { result } = boundCheckResult(create(CheckResultSchema, { checkId: "slow", attempts: 600, summary: "x (after 600 attempts)", attemptLog }));
    expect(result.attemptLog.map((a) => a.summary)).toEqual(["try 0", ...Array.from({ length: 31 }, (_, i) => `try ${569 + i}`)]);
    expect(result.attempts).toBe(600);
    expect(result.summary).toBe("x (after 600 attempts) [32 of 600 attempts logged]");
  });

  it("drops a captured value too large rather than cutting it", () => {
    const { result } = boundCheckResult(create(CheckResultSchema, { checkId: "c", summary: "exit 0", captured: { small: "v", big: "x".repeat(B.capturedValueBytes + 1) } }));
    expect(result.captured).toEqual({ small: "v" });
    expect(result.summary).toBe("exit 0 [1 captured value too large, dropped]");
  });

  it("as a last resort, an error result names the size and the limit and the outcome it replaces", () => {
    const r = oversizeResult(create(CheckResultSchema, { checkId: "noisy", kind: "command", status: Status.FAILED, summary: "expected exit 0, saw 1", stdoutTail: "x" }), 6_291_456, 1_048_576);
    expect(r.status).toBe(Status.ERROR);
    expect(r.checkId).toBe("noisy");
    expect(r.stdoutTail).toBe("");
    expect(r.summary).toBe("result too large to send: 6291456 bytes encoded, limit 1048576; output and details left out (it was failed: expected exit 0, saw 1)");
  });
});
