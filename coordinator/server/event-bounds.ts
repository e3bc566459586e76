// Defence in depth for issue 12: whatever an agent sends (an older agent, a bug), a result is
// stored in its bounded form, the same RESULT_BUDGET the agent cuts to, so one noisy check
// cannot bloat the database, the reports or the messages that carry results on to the CLI.
import type { Logger } from "pino";
import type { AgentEvent } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { RESULT_BUDGET } from "../../shared/model/limits.js";
import { boundCheckResult } from "../../shared/model/result-bounds.js";
import { keepHead } from "../../shared/model/text-cut.js";

/** The event with its result (or its task's summary) within budget; logs what had to be cut. */
export function boundIncomingEvent(event: AgentEvent, log: Logger): AgentEvent {
  const body = event.body;
  if (body.case === "check" && body.value.result) {
    const { result, cut } = boundCheckResult(body.value.result);
    if (!cut.length) return event;
    log.warn({ seq: event.seq, check: result.checkId, cut }, "agent sent a result over its size budget; stored cut to it");
    return { ...event, body: { case: "check", value: { ...body.value, result } } };
  }
  if (body.case === "taskDone") {
    const summary = keepHead(body.value.summary, RESULT_BUDGET.summaryBytes);
    if (summary === body.value.summary) return event;
    log.warn({ seq: event.seq, task: body.value.taskId }, "agent sent a task summary over its size budget; stored cut to it");
    return { ...event, body: { case: "taskDone", value: { ...body.value, summary } } };
  }
  return event;
}
