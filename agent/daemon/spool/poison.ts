// An event that cannot be delivered or kept is replaced, under the same seq, by a small ERROR
// event for the same task (and check) that says why. The run then learns the result is missing
// instead of waiting for it, and no single event can block the spool for ever.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AgentEventSchema } from "../../../shared/gen/fleetgate/v1/agent_pb.js";
import { Status, statusName } from "../../../shared/model/status.js";
import type { EventMeta } from "./scan.js";

/** Deliveries of one event that may fail in a row before it is replaced… */
export const POISON_AFTER = 5;
/** …and how long they must span, so an outage of the coordinator alone never costs a result. */
export const POISON_SPAN_MS = 60_000;

type Body = MessageInitShape<typeof AgentEventSchema>["body"];

/** The ERROR body standing in for an event described by `meta`, which could not go through because `why`. */
export function replacementBody(meta: EventMeta, why: string): Body {
  const was = meta.status ? ` (it was ${statusName(meta.status)})` : "";
  if (meta.kind === "check") {
    return {
      case: "check",
      value: { taskId: meta.taskId, result: { checkId: meta.checkId, kind: meta.checkKind, status: Status.ERROR, summary: `result not delivered${was}: ${why}` } },
    };
  }
  if (meta.kind === "taskDone") {
    return { case: "taskDone", value: { taskId: meta.taskId, status: Status.ERROR, summary: `the task's end was not delivered${was}: ${why}` } };
  }
  return { case: undefined };
}
