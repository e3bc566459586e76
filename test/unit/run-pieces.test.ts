// GetRun's pieces: a run of any size goes over the wire in messages under the size limit and comes
// back as the same RunRecord; a stream that does not add up is refused, never read as a run.
import { create, equals, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CheckResultSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { GetRunResponseSchema, RunRecordSchema, type GetRunResponse, type RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { MAX_MESSAGE_BYTES } from "../../shared/grpc/adapter.js";
import { joinRunPieces, RUN_PIECE_BYTES, runPieces } from "../../shared/grpc/run-pieces.js";
import { Status } from "../../shared/model/status.js";
import { run, task } from "./judgement-runs.js";

/** 1.1 MB of output lines, distinct per check, so a piece out of place could not go unnoticed. */
function output(n: number): string {
  const lines: string[] = [];
  for (let i = 0, size = 0; size < 1_100_000; i++) {
    const line = `check ${n} line ${i} ${"x".repeat(60)}`;
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join("\n");
}

/** Five checks on one node, each keeping 1.1 MB of stdout: 5.5 MB of output in one run. */
function bigRun(): RunRecord {
  const checks = [1, 2, 3, 4, 5].map((n) => create(CheckResultSchema, { checkId: `loud-${n}`, kind: "command", status: Status.PASSED, summary: "exit 0", stdoutTail: output(n), stderrTail: `stderr ${n}` }));
  return run({ tasks: [task("fleet", "n1", 1, Status.PASSED, checks)] });
}

function refusal(messages: GetRunResponse[]): FleetgateError {
  try {
    joinRunPieces(messages, "r1");
  } catch (err) {
    if (err instanceof FleetgateError) return err;
    throw err;
  }
  throw new Error("joinRunPieces accepted the messages");
}

describe("runPieces and joinRunPieces", () => {
  it("sends a run that fits in one piece as one message carrying the run, as the unary GetRun did", () => {
    const small = run();
    const messages = runPieces(small);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.content.case).toBe("run");
    expect(equals(RunRecordSchema, joinRunPieces(messages, "r1"), small)).toBe(true);
  });

  it("sends a run with 5.5 MB of output in pieces, every message under the 4 MiB limit, and joins them into the same run", () => {
    const big = bigRun();
    expect(toBinary(RunRecordSchema, big).length).toBeGreaterThan(MAX_MESSAGE_BYTES);
    const messages = runPieces(big);
    expect(messages.length).toBeGreaterThanOrEqual(5);
    for (const m of messages) {
      expect(m.content.case).toBe("runPiece");
      expect(toBinary(GetRunResponseSchema, m).length).toBeLessThanOrEqual(RUN_PIECE_BYTES + 64);
    }
    const joined = joinRunPieces(messages, "r1");
    expect(equals(RunRecordSchema, joined, big)).toBe(true);
    expect(joined.tasks[0]?.checks.map((c) => c.stdoutTail.length)).toEqual(big.tasks[0]?.checks.map((c) => c.stdoutTail.length));
  });

  it("joins back exactly the run it was given, whatever the piece size and the run's shape", () => {
    const anyRun = fc
      .array(fc.record({ id: fc.string({ maxLength: 8 }), status: fc.constantFrom(Status.PASSED, Status.FAILED, Status.ERROR), out: fc.string({ maxLength: 300 }) }), { maxLength: 12 })
      .map((checks) =>
        run({ tasks: [task("fleet", "n1", 1, Status.PASSED, checks.map((c) => create(CheckResultSchema, { checkId: c.id, status: c.status, stdoutTail: c.out })))] }),
      );
    fc.assert(
      fc.property(anyRun, fc.integer({ min: 1, max: 2048 }), (r, size) => {
        const messages = runPieces(r, size);
        expect(messages.every((m) => (m.content.case === "runPiece" ? m.content.value.length <= size : true))).toBe(true);
        expect(equals(RunRecordSchema, joinRunPieces(messages, r.runId), r)).toBe(true);
      }),
    );
  });

  it("refuses pieces cut short, whether the last or one in the middle is missing", () => {
    const messages = runPieces(run(), 100);
    expect(messages.length).toBeGreaterThan(3);
    for (const missing of [messages.length - 1, 1]) {
      const err = refusal(messages.filter((_, i) => i !== missing));
      expect(err.code).toBe("internal");
      expect(err.message).toMatch(/^the coordinator's answer for run r1 was cut short: \d+ of \d+ bytes;/);
    }
  });

  it("refuses an empty answer, a whole run mixed with pieces, and a message with neither", () => {
    const pieces = runPieces(run(), 100);
    const whole = runPieces(run());
    expect(refusal([]).message).toMatch(/^the coordinator's answer for run r1 is empty;/);
    expect(refusal([...whole, ...pieces]).message).toMatch(/holds 1 whole runs and \d+ pieces; expected one run or only pieces/);
    expect(refusal([...whole, ...whole]).message).toMatch(/holds 2 whole runs and 0 pieces/);
    expect(refusal([create(GetRunResponseSchema, {})]).message).toMatch(/holds a message with neither the run nor a piece of it/);
  });

  it("refuses pieces that disagree on the run's size", () => {
    const pieces = runPieces(run(), 100);
    const second = pieces[1] as GetRunResponse;
    pieces[1] = create(GetRunResponseSchema, { content: second.content, runBytes: second.runBytes + 1n });
    expect(refusal(pieces).message).toMatch(/has pieces that disagree on the run's size/);
  });
});
