// Reads a spool directory without changing it: every segment's intact records, the damaged
// spans between them, and which record of each seq is the one that counts. Spool.open repairs
// what this finds; tests and operators can look with it too.
import { closeSync, openSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { AgentEventSchema, type AgentEvent } from "../../../shared/gen/fleetgate/v1/agent_pb.js";
import { Status } from "../../../shared/model/status.js";
import { HEADER_BYTES, readRecordAt, scanRecords, type Damage } from "./records.js";
import { readState, type SpoolState } from "./state-file.js";

const SEGMENT = /^seg-(\d{12})\.log$/;

export function segmentFile(dir: string, n: number): string {
  return join(dir, `seg-${String(n).padStart(12, "0")}.log`);
}

/** What the spool keeps in memory of an event: enough to replace it without reading it back. */
export interface EventMeta {
  kind: "check" | "taskDone" | "none";
  taskId: string;
  checkId: string;
  checkKind: string;
  status: Status;
}

export function metaOf(event: AgentEvent): EventMeta {
  const body = event.body;
  if (body.case === "check") {
    const r = body.value.result;
    return { kind: "check", taskId: body.value.taskId, checkId: r?.checkId ?? "", checkKind: r?.kind ?? "", status: r?.status ?? Status.UNSPECIFIED };
  }
  if (body.case === "taskDone") return { kind: "taskDone", taskId: body.value.taskId, checkId: "", checkKind: "", status: body.value.status };
  return { kind: "none", taskId: "", checkId: "", checkKind: "", status: Status.UNSPECIFIED };
}

/** Where one event's record is: segment number, offset of its header, header and payload bytes. */
export interface Located {
  seq: bigint;
  seg: number;
  offset: number;
  bytes: number;
  meta: EventMeta;
}

export interface SegmentScan {
  n: number;
  file: string;
  size: number;
  damages: Damage[];
}

export interface SpoolScan {
  segments: SegmentScan[];
  /** The record that counts for each seq above `state.acked` (the last one written), by seq. */
  pending: Map<bigint, Located>;
  /** The highest seq in any record, acknowledged or not. */
  highestSeq: bigint;
  state: SpoolState;
  stateProblem?: string;
}

export function listSegments(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => SEGMENT.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

function decode(payload: Buffer): AgentEvent | undefined {
  try {
    const event = fromBinary(AgentEventSchema, payload);
    return event.seq > 0n ? event : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Scans `dir` (a spool directory). Segments are read in the order they were created; a seq
 * written again later (a poison event replaced, a record moved off a damaged span) counts as
 * its last record.
 */
export function scanSpool(dir: string): SpoolScan {
  const { state, problem } = readState(dir);
  const segments: SegmentScan[] = [];
  const located = new Map<bigint, Located>();
  let highestSeq = 0n;
  for (const n of listSegments(dir)) {
    const file = segmentFile(dir, n);
    const fd = openSync(file, "r");
    try {
      const size = statSync(file).size;
      const damages = scanRecords(fd, size, (offset, payload) => {
        const event = decode(payload);
        if (!event) return false;
        if (event.seq > highestSeq) highestSeq = event.seq;
        located.set(event.seq, { seq: event.seq, seg: n, offset, bytes: HEADER_BYTES + payload.length, meta: metaOf(event) });
        return true;
      });
      segments.push({ n, file, size, damages });
    } finally {
      closeSync(fd);
    }
  }
  const pending = new Map([...located].filter(([seq]) => seq > state.acked).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { segments, pending, highestSeq, state, ...(problem ? { stateProblem: problem } : {}) };
}

/** The event a located record holds, read and checked again; undefined if it no longer reads intact. */
export function readLocated(dir: string, at: Located): AgentEvent | undefined {
  const fd = openSync(segmentFile(dir, at.seg), "r");
  try {
    const payload = readRecordAt(fd, at.offset, at.offset + at.bytes);
    return payload && decode(payload);
  } finally {
    closeSync(fd);
  }
}
