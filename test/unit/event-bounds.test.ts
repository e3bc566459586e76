import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { boundIncomingEvent } from "../../coordinator/server/event-bounds.js";
import { AgentEventSchema } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { CheckResultSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { RESULT_BUDGET } from "../../shared/model/limits.js";
import { Status } from "../../shared/model/status.js";

function capturingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

describe("the coordinator bounds what an agent sends before storing it", () => {
  it("cuts a result over its budget (an older agent's) and logs which fields it cut", () => {
    const { log, lines } = capturingLog();
    const result = create(CheckResultSchema, { checkId: "noisy", status: Status.FAILED, summary: "expected exit 0, saw 1", stdoutTail: "\uFFFD".repeat(1_000_000) });
    const event = create(AgentEventSchema, { seq: 3n, body: { case: "check", value: { taskId: "t1", result } } });
    const stored = boundIncomingEvent(event, log);
    const r = stored.body.case === "check" ? stored.body.value.result : undefined;
    expect(Buffer.byteLength(r?.stdoutTail ?? "")).toBeLessThanOrEqual(RESULT_BUDGET.outputTailBytes);
    expect(r?.stdoutTail).toMatch(/^\[… \d+ bytes cut …\]\n\uFFFD+$/);
    expect(r?.status).toBe(Status.FAILED);
    expect(stored.body.case === "check" && stored.body.value.taskId).toBe("t1");
    expect(lines).toMatchObject([{ seq: 3, check: "noisy", cut: ["stdout_tail"], msg: "agent sent a result over its size budget; stored cut to it" }]);
  });

  it("cuts a task's summary over its budget", () => {
    const { log } = capturingLog();
    const event = create(AgentEventSchema, { seq: 4n, body: { case: "taskDone", value: { taskId: "t1", status: Status.ERROR, summary: "x".repeat(100_000) } } });
    const stored = boundIncomingEvent(event, log);
    const summary = stored.body.case === "taskDone" ? stored.body.value.summary : "";
    expect(Buffer.byteLength(summary)).toBeLessThanOrEqual(RESULT_BUDGET.summaryBytes);
    expect(summary).toMatch(/^x+ \[… \d+ bytes cut …\]$/);
  });

  it("passes an event within budget through untouched, without a log line", () => {
    const { log, lines } = capturingLog();
    const event = create(AgentEventSchema, { seq: 5n, body: { case: "check", value: { taskId: "t1", result: { checkId: "echo", summary: "exit 0", stdoutTail: "hello\n" } } } });
    expect(boundIncomingEvent(event, log)).toBe(event);
    expect(lines).toEqual([]);
  });
});
