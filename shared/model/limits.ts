// Every size limit on what an agent reports, in one place, in bytes of UTF-8 / protobuf encoding
// (never characters: 3 MB of invalid UTF-8 decodes to 9 MB of U+FFFD, which once wedged a node
// in a reconnect loop, issue 12). The agent cuts a CheckResult to these budgets when it builds
// it; the coordinator cuts again what it receives before storing it.
//
// The budgets add up to less than MAX_CHECK_RESULT_BYTES (see RESULT_WORST_CASE_BYTES), so a
// result within them is within the limit by construction; an event carrying one stays well
// under the gRPC message limit both ends enforce.

const KiB = 1024;
const MiB = 1024 * KiB;

/** The gRPC message limit: what the coordinator receives and what an agent or the CLI sends. */
export const MAX_GRPC_MESSAGE_BYTES = 4 * MiB;

/** One encoded CheckResult. */
export const MAX_CHECK_RESULT_BYTES = 1 * MiB;

/** One encoded AgentEvent in its ConnectRequest: a result plus seq, origin and task id. */
export const MAX_AGENT_EVENT_BYTES = MAX_CHECK_RESULT_BYTES + 64 * KiB;

/** Byte budgets of each field of a CheckResult that can grow with a check's output. */
export const RESULT_BUDGET = {
  /** check_id, kind: from the suite, short in practice. */
  idBytes: 1 * KiB,
  /** One line a person reads; a bats tally lists every failed test, so it can grow. */
  summaryBytes: 8 * KiB,
  reasonBytes: 4 * KiB,
  hintBytes: 4 * KiB,
  /** Each of stdout_tail and stderr_tail: the end of the output is what explains a failure. */
  outputTailBytes: 256 * KiB,
  /** All inner test cases together, encoded; failed cases are kept first. */
  casesBytes: 192 * KiB,
  caseNameBytes: 1 * KiB,
  caseMessageBytes: 4 * KiB,
  /** The attempt log keeps the first attempt and the last ones; `attempts` keeps the count. */
  attemptsKept: 32,
  attemptSummaryBytes: 1 * KiB,
  /** All captured values together, encoded. */
  capturedBytes: 128 * KiB,
  /** One captured value: a value is used by later steps, so a larger one fails the capture. */
  capturedValueBytes: 64 * KiB,
  capturedNameBytes: 256,
} as const;

/** Bytes a length-delimited protobuf field of `len` bytes takes (tag < 16, one byte). */
export function fieldBytes(len: number): number {
  let varint = 1;
  for (let n = len; n >= 0x80; n = Math.floor(n / 0x80)) varint++;
  return 1 + varint + len;
}

/** A scalar field at its largest: tag plus a 10-byte varint. */
const SCALAR = 11;

const B = RESULT_BUDGET;
const ATTEMPT_WORST = fieldBytes(SCALAR * 3 + fieldBytes(B.attemptSummaryBytes));

/** The largest a CheckResult within RESULT_BUDGET can encode to. */
export const RESULT_WORST_CASE_BYTES =
  2 * fieldBytes(B.idBytes) + // check_id, kind
  fieldBytes(B.summaryBytes) +
  fieldBytes(B.reasonBytes) +
  fieldBytes(B.hintBytes) +
  2 * fieldBytes(B.outputTailBytes) +
  5 * SCALAR + // status, precondition, started_at_ms, duration_ms, attempts
  B.casesBytes + // counted encoded, entry headers included
  B.attemptsKept * ATTEMPT_WORST +
  B.capturedBytes; // counted encoded, entry headers included

if (RESULT_WORST_CASE_BYTES > MAX_CHECK_RESULT_BYTES) throw new Error("RESULT_BUDGET exceeds MAX_CHECK_RESULT_BYTES");
if (MAX_AGENT_EVENT_BYTES >= MAX_GRPC_MESSAGE_BYTES) throw new Error("MAX_AGENT_EVENT_BYTES must stay under the gRPC limit");
