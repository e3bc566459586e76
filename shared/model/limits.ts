// Every limit fleetgate enforces, in one place: sizes of what an agent reports, of the files a
// person writes (suites, plans), and rates and counts on the agent stream, each with why.
//
// Sizes are bytes of UTF-8 / protobuf encoding (never characters: 3 MB of invalid UTF-8 decodes to
// 9 MB of U+FFFD, which once wedged a node in a reconnect loop, issue 12). The agent cuts a
// CheckResult to these budgets when it builds it; the coordinator cuts again what it receives
// before storing it.
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

// ---- Files a person writes: checked wherever one is parsed (coord run, the coordinator, the agent) ----

/** A suite, plan or config file: a larger one is refused naming the file (a generated suite gone wrong). */
export const MAX_YAML_BYTES = 1 * MiB;

/** Preconditions and checks of one suite: each is a result row per iteration and node. */
export const MAX_CHECKS_PER_SUITE = 1_000;

/** Checks of one suite running at once (`concurrency:`, `--concurrency`): more only queue on the node's CPU and sockets. */
export const MAX_SUITE_CONCURRENCY = 64;

/** Checks of every suite a plan names, together: a run stores each once per node and iteration. */
export const MAX_CHECKS_PER_PLAN = 10_000;

// ---- Files a suite ships with its task (`files:`, shared/model/suite-files.ts) ----

/**
 * What a Task carries besides a suite's files, at its largest: the suite and a matrix leg's probes
 * (each a YAML file of at most MAX_YAML_BYTES), ids, tags and captures, with room to spare.
 */
const TASK_RESERVE_BYTES = 2 * MAX_YAML_BYTES + 512 * KiB;

/**
 * The files one suite ships, encoded (paths and contents): a task carries them to the node in one
 * gRPC message, so they get what MAX_GRPC_MESSAGE_BYTES leaves after the rest of a task (1.5 MiB).
 * Larger files belong installed on the node, not shipped with every task.
 */
export const MAX_SUITE_FILES_BYTES = MAX_GRPC_MESSAGE_BYTES - TASK_RESERVE_BYTES;

/** Files one suite ships: each is written to the node's work dir for every task. */
export const MAX_SUITE_FILES = 1_000;

/** A shipped file's path, relative to its suite's directory. */
export const MAX_SUITE_FILE_PATH_BYTES = 1 * KiB;

if (MAX_SUITE_FILES_BYTES <= 0) throw new Error("MAX_SUITE_FILES_BYTES leaves no room in a Task");

// ---- The agent stream, as the coordinator enforces it (coordinator/fleet/agent-gate.ts) ----

/** A stream must say hello within this, or it is closed: a silent stream holds a slot for nothing. */
export const HELLO_TIMEOUT_MS = 15_000;

/**
 * Streams open and not yet past their hello, from one address and in all. Beyond either, a new
 * stream is refused at once (RESOURCE_EXHAUSTED) instead of waiting out the hello timeout: 2,000
 * silent streams must not cost 2,000 timers and the memory behind them. A real agent says hello
 * within milliseconds, so even a fleet behind one NAT address stays far below.
 */
export const MAX_PENDING_HELLOS_PER_ADDRESS = 100;
export const MAX_PENDING_HELLOS = 1_000;

/**
 * Hellos per minute from one address, and naming one node. Beyond them a hello is refused with
 * RESOURCE_EXHAUSTED and a retry hint (agents wait it out), so two hosts configured with one name
 * cannot re-register once a second forever (issue 13). An agent backs off to 15 s between
 * attempts, a flapping link reconnects far less often than 30 times a minute, and a fleet behind
 * one NAT address that all reconnects after a coordinator restart stays within 300.
 */
export const HELLOS_PER_MINUTE_PER_NODE = 30;
export const HELLOS_PER_MINUTE_PER_ADDRESS = 300;

/**
 * Events per minute one node may have committed, and the burst above that rate it may send at
 * once. Beyond them the coordinator reads the node's stream more slowly (HTTP/2 flow control
 * holds the agent's writes); it never refuses an event, because an agent takes a refused event
 * as too large and replaces its result (agent/daemon/event-size.ts). A flood costs the flooding
 * node time, not the other nodes their commits: each event is a synced SQLite commit (about
 * 3,500 a second, docs/benchmarks.md), and one node may use at most 100 of them a second.
 */
export const EVENTS_PER_MINUTE_PER_NODE = 6_000;
export const EVENT_BURST_PER_NODE = 2_000;

/** Addresses and node names whose hello and event rates are tracked; the least recently seen beyond it are forgotten. */
export const RATE_KEYS_TRACKED = 10_000;

// ---- The refusal log (coordinator/server/refusals.ts) ----

/** Refusals kept one by one (newest); older ones live on only in the totals by kind. */
export const REFUSALS_KEPT = 1_000;

/** Log lines per kind of refusal per minute; beyond it one line says how many more were only counted. */
export const REFUSAL_LOG_LINES_PER_MINUTE = 60;

/** Bytes of a refusal's message and claimed name as stored. */
export const REFUSAL_TEXT_BYTES = 1 * KiB;
