// The agent never sends a message it knows is too large: every event is measured as encoded on
// the wire before it is spooled and again before it is sent (a spool written by an older agent
// may hold one), and one over MAX_AGENT_EVENT_BYTES is cut, or replaced by an error result.
// Issue 12: a 6 MB result, refused by gRPC, was resent on every reconnect, 2.5 times a second.
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { AgentEventSchema, ConnectRequestSchema, type AgentEvent } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { MAX_AGENT_EVENT_BYTES, RESULT_BUDGET } from "../../shared/model/limits.js";
import { boundCheckResult, oversizeResult } from "../../shared/model/result-bounds.js";
import { keepHead } from "../../shared/model/text-cut.js";

export interface FittedEvent {
  event: AgentEvent;
  /** What was done to it, for a log line; undefined when it went as it was. */
  changed?: string;
}

/** Bytes the event takes on the wire, in the ConnectRequest that carries it. */
export function wireBytes(event: AgentEvent): number {
  return toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { msg: { case: "event", value: event } })).length;
}

function withBody(event: AgentEvent, body: AgentEvent["body"]): AgentEvent {
  return create(AgentEventSchema, { ...event, body });
}

/** The event cut to size: results to RESULT_BUDGET, summaries to their budget; an error result as the last resort. */
export function fitEvent(event: AgentEvent, limit = MAX_AGENT_EVENT_BYTES): FittedEvent {
  let fitted = event;
  const changes: string[] = [];
  if (event.body.case === "check" && event.body.value.result) {
    const { result, cut } = boundCheckResult(event.body.value.result);
    if (cut.length) {
      changes.push(`cut ${cut.join(", ")}`);
      fitted = withBody(event, { case: "check", value: { ...event.body.value, result } });
    }
  } else if (event.body.case === "taskDone") {
    const summary = keepHead(event.body.value.summary, RESULT_BUDGET.summaryBytes);
    if (summary !== event.body.value.summary) {
      changes.push("cut summary");
      fitted = withBody(event, { case: "taskDone", value: { ...event.body.value, summary } });
    }
  }
  const bytes = wireBytes(fitted);
  if (bytes > limit) return replaceForSize(fitted, `event too large to send: ${bytes} bytes, limit ${limit}`, bytes, limit);
  return { event: fitted, changed: changes.length ? `event ${event.seq} over its size budget: ${changes.join("; ")}` : undefined };
}

/**
 * What goes instead of an event refused for its size (`why`: the refusal, or our own
 * measurement): for a check, an error result naming the size and the limit; for a task's end,
 * the same end with its summary cut short.
 */
export function replaceForSize(event: AgentEvent, why: string, bytes = wireBytes(event), limit = MAX_AGENT_EVENT_BYTES): FittedEvent {
  const changed = `event ${event.seq} replaced: ${why}`;
  if (event.body.case === "check" && event.body.value.result) {
    const result = oversizeResult(event.body.value.result, bytes, limit, keepHead(why, 1024));
    return { event: withBody(event, { case: "check", value: { ...event.body.value, result } }), changed };
  }
  if (event.body.case === "taskDone") {
    const summary = `${keepHead(event.body.value.summary, 1024)} [${keepHead(why, 1024)}]`;
    return { event: withBody(event, { case: "taskDone", value: { ...event.body.value, summary } }), changed };
  }
  return { event, changed: undefined };
}

/** What task-runner spools: the body fitted before it gets a seq (measured with the largest seq). */
export function fitForSpool(init: Pick<MessageInitShape<typeof AgentEventSchema>, "origin" | "body">): Pick<AgentEvent, "origin" | "body"> {
  const { event } = fitEvent(create(AgentEventSchema, { ...init, seq: 0xffff_ffff_ffff_ffffn }));
  return { origin: event.origin, body: event.body };
}

/**
 * Events refused for their size (RESOURCE_EXHAUSTED: a message over a limit, ours or the
 * coordinator's, which may be lower than ours) and what goes on the wire instead. The oldest
 * event written on the stream and not acknowledged is taken as the one refused, and is sent as
 * an error result for its check from then on. Each refusal replaces one more event, so the
 * resending ends after at most as many reconnects as there are events, never in a loop (issue 12).
 */
export class SizeRefusals {
  private readonly refused = new Map<bigint, { why: string; limit: number }>();

  constructor(private readonly log: Logger) {}

  /** The event as it goes on the wire: fitted to the limit, replaced if it was refused. */
  wire(event: AgentEvent): AgentEvent {
    const refusal = this.refused.get(event.seq);
    let fitted = fitEvent(event);
    if (refusal) fitted = replaceForSize(fitted.event, refusal.why, undefined, refusal.limit);
    if (fitted.changed) this.log.warn({ seq: event.seq }, fitted.changed);
    return fitted.event;
  }

  /** A stream ended with `error`; `unacked`: seqs written on it and not acknowledged. Returns the seq taken as refused. */
  streamEnded(error: Pick<ServiceError, "code" | "details"> | undefined, unacked: Iterable<bigint>): bigint | undefined {
    if (error?.code !== GrpcStatus.RESOURCE_EXHAUSTED) return undefined;
    let seq: bigint | undefined;
    for (const s of unacked) if (!this.refused.has(s) && (seq === undefined || s < seq)) seq = s;
    if (seq === undefined) return undefined;
    // grpc-js names the limit: "… larger than max (6291456 vs 4194304)", "… larger than 4194304".
    const limit = Number(/(\d+)\)?\s*$/.exec(error.details)?.[1] ?? MAX_AGENT_EVENT_BYTES);
    this.refused.set(seq, { why: `refused for its size: ${error.details}`, limit });
    this.log.warn({ seq, err: error.details }, "event refused for its size; it is sent again as an error result for its check");
    return seq;
  }
}
