// The run's own binary codec (shared/grpc/run-codec.ts): its bytes are a RunRecord to protobuf-es
// (what a CLI of an earlier version decodes), it reads protobuf-es's bytes (what an earlier
// coordinator sends) into the very messages fromBinary makes, and it knows every field of a task
// and a check result, so a field added to the .proto cannot be dropped on the way to a report.
import { create, equals, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CheckResultSchema, type CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { RunRecordSchema, TaskRecordSchema, type RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { CHECK_RESULT_FIELDS, checkResult, decodeRun, encodeRun, TASK_RECORD_FIELDS, taskRecord } from "../../shared/grpc/run-codec.js";
import { Status } from "../../shared/model/status.js";
import { run, task } from "./judgement-runs.js";

/** A check result with every field set, some to values that take the encoding's rare paths. */
function fullCheck(n: number): CheckResult {
  return create(CheckResultSchema, {
    checkId: `check-${n}`,
    kind: "command",
    status: Status.WAIVED,
    summary: "expected exit 0, saw 1 — ünïcødé ✓ 🚀",
    reason: "because",
    precondition: true,
    startedAtMs: 1_790_000_000_000n + BigInt(n),
    durationMs: -5n, // never written by an agent, but an int64 all the same: ten bytes on the wire
    attempts: 3,
    stdoutTail: `line 1\nline 2 ${"x".repeat(300)}\n`,
    stderrTail: "err\n",
    hint: "restart it",
    cases: [{ name: "case a", status: Status.FAILED, message: "boom", durationMs: 7n }, { name: "case b", status: Status.PASSED }],
    attemptLog: [{ startedAtMs: 1n, durationMs: 900n, passed: false, summary: "first" }],
    captured: { height: "870000", "": "empty key", tip: "" },
    waiver: { checkId: `check-${n}`, node: "n1", reason: "known", owner: "ops", expires: "2027-01-01", expiresAtMs: 1_800_000_000_000n, source: "waivers.yaml", expired: false },
    unwaivedStatus: Status.FAILED,
    runAs: "nobody",
  });
}

function fullRun(): RunRecord {
  const t = create(TaskRecordSchema, {
    taskId: "r1/cross/step-1/1",
    stageId: "cross",
    nodeName: "n1",
    iteration: 2_000_000_000,
    status: Status.FAILED,
    summary: "1 failed",
    checks: [fullCheck(1), fullCheck(2), create(CheckResultSchema, {})],
    startedAtMs: 1_790_000_000_000n,
    finishedAtMs: 2n ** 62n,
    stageKind: "cross",
    stepId: "step-1",
    role: "primary",
    suitePath: "suites/a.yaml",
  });
  return run({ tasks: [t, create(TaskRecordSchema, {}), ...run().tasks], flakes: [{ stageId: "fleet", node: "n1", checkId: "http", passed: 1, total: 2, runIds: ["r0", "r1"] }], vars: { a: "b" } });
}

const fieldsOf = (schema: typeof CheckResultSchema | typeof TaskRecordSchema) => Object.fromEntries(schema.fields.map((f) => [f.localName, f.number]));

describe("the run codec", () => {
  it("knows every field of a task and of a check result, by the number the .proto gives it", () => {
    expect(CHECK_RESULT_FIELDS).toEqual(fieldsOf(CheckResultSchema));
    expect(TASK_RECORD_FIELDS).toEqual(fieldsOf(TaskRecordSchema));
  });

  it("makes the same messages as create(), keys in the same order", () => {
    for (const c of [fullCheck(1), create(CheckResultSchema, {})]) {
      const made = checkResult(c);
      expect(made).toStrictEqual(c);
      expect(Object.keys(made)).toEqual(Object.keys(c));
    }
    const t = fullRun().tasks[0]!;
    expect(taskRecord(t)).toStrictEqual(t);
    expect(Object.keys(taskRecord(t))).toEqual(Object.keys(t));
  });

  it("writes bytes protobuf-es reads as the same run", () => {
    const r = fullRun();
    expect(equals(RunRecordSchema, fromBinary(RunRecordSchema, encodeRun(r)), r)).toBe(true);
  });

  it("reads protobuf-es's bytes into the very messages fromBinary makes", () => {
    const bytes = toBinary(RunRecordSchema, fullRun());
    const ours = decodeRun(bytes);
    const theirs = fromBinary(RunRecordSchema, bytes);
    expect(ours).toStrictEqual(theirs);
    expect(Object.keys(ours.tasks[0]!.checks[0]!)).toEqual(Object.keys(theirs.tasks[0]!.checks[0]!));
  });

  it("round-trips any run, whatever its strings, numbers and statuses", () => {
    const anyCheck = fc.record({
      checkId: fc.string({ unit: "binary", maxLength: 12 }),
      status: fc.constantFrom(...Object.values(Status).filter((s): s is Status => typeof s === "number")),
      summary: fc.string({ unit: "binary", maxLength: 40 }),
      precondition: fc.boolean(),
      startedAtMs: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      attempts: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      stdoutTail: fc.string({ unit: "grapheme", maxLength: 200 }),
      // A plain object, as every map of a decoded message is (fast-check's has no prototype).
      captured: fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }).map((d) => ({ ...d })),
    });
    const anyTask = fc.record({ nodeName: fc.string({ maxLength: 8 }), iteration: fc.integer({ min: -5, max: 1e6 }), finishedAtMs: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), checks: fc.array(anyCheck, { maxLength: 6 }) });
    fc.assert(
      fc.property(fc.array(anyTask, { maxLength: 5 }), (tasks) => {
        const r = run({ tasks: tasks.map((t) => create(TaskRecordSchema, { ...t, checks: t.checks.map((c) => create(CheckResultSchema, c as MessageInitShape<typeof CheckResultSchema>)) })) });
        const bytes = encodeRun(r);
        expect(equals(RunRecordSchema, fromBinary(RunRecordSchema, bytes), r)).toBe(true);
        expect(decodeRun(bytes)).toStrictEqual(r);
        expect(decodeRun(toBinary(RunRecordSchema, r))).toStrictEqual(r);
      }),
    );
  });

  it("skips a field it does not know in a task or a check, as from a newer coordinator, and reads the rest", () => {
    const check = new BinaryWriter().tag(1, WireType.LengthDelimited).string("http").tag(99, WireType.Varint).int32(7).tag(3, WireType.Varint).int32(Status.PASSED).finish();
    const t = new BinaryWriter().tag(1, WireType.LengthDelimited).string("t1").tag(7, WireType.LengthDelimited).bytes(check).tag(98, WireType.LengthDelimited).string("new").finish();
    const bytes = new BinaryWriter().tag(1, WireType.LengthDelimited).string("r9").tag(7, WireType.LengthDelimited).bytes(t).finish();
    const r = decodeRun(bytes);
    expect(r.runId).toBe("r9");
    expect(r.tasks).toEqual([taskRecord({ ...create(TaskRecordSchema, { taskId: "t1" }), checks: [create(CheckResultSchema, { checkId: "http", status: Status.PASSED })] })]);
  });

  it("refuses bytes cut short inside a task rather than reading a run with results missing", () => {
    const bytes = encodeRun(fullRun());
    const head = toBinary(RunRecordSchema, { ...fullRun(), tasks: [] }).length;
    for (const cut of [head + 3, head + 40, bytes.length - 1]) expect(() => decodeRun(bytes.subarray(0, cut))).toThrow();
  });

  it("reads a run of many tasks the same as protobuf-es does", () => {
    const tasks = Array.from({ length: 300 }, (_, i) => task("fleet", `n${i}`, 1 + (i % 5), Status.PASSED, [fullCheck(i), create(CheckResultSchema, { checkId: "x", status: Status.PASSED, stdoutTail: "ok\n".repeat(i) })]));
    const r = run({ tasks });
    const bytes = encodeRun(r);
    expect(bytes.length).toBe(toBinary(RunRecordSchema, r).length);
    expect(decodeRun(bytes)).toStrictEqual(fromBinary(RunRecordSchema, bytes));
  });
});
