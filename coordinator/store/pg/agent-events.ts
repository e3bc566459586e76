// Agent events committed exactly once on PostgreSQL (issue 19): the PostgreSQL side of
// store/agent-events.ts recordAgentEvent, for a whole batch in ONE transaction, with the same
// rules (store/event-rules.ts) and the same rows: an agent_events row per new (node, seq), and a
// check_results row per check result. A repeat is recognised by agent_events' primary key
// (INSERT … ON CONFLICT DO NOTHING), so two connections committing the same events — a replay, an
// overlapping batch, two coordinators — store each exactly once.
//
// `coord serve --store postgres://` runs it through PgSyncDb (sync-db.ts recordEvents), inside the
// transaction RunEngine.ingestBatch opens, for each stretch of a batch up to a taskDone: the
// engine steps the run's sequencer on that taskDone before the next stretch is recorded, so a
// later event of the batch sees the task statuses it wrote, as on SQLite. commitAgentEvents wraps
// the same in a transaction of its own, for callers without one.
import type { AgentEvent } from "../../../shared/gen/fleetgate/v1/agent_pb.js";
import { CHECK_RESULT_COLUMNS, checkResultValues, duplicateOutcome, eventTaskId, judgeEvent, resultToStore, taskDoneOutcome, type CommitOutcome, type WaiversOn } from "../event-rules.js";
import { taskFromRow, type RawTask, type TaskRow } from "../tasks.js";
import { inPgTransaction, type PgClient } from "./db.js";
import { addRunFlagPg } from "./run-flags.js";

/** An event as it came off one node's stream (the shape of RunEngine's IncomingEvent). */
export interface PgIncomingEvent {
  node: string;
  /** The machine-id the node is registered with: a result from any other host is rejected. */
  machineId: string;
  event: AgentEvent;
}

export interface PgCommitOptions {
  /** The waivers of a run in force on a node (RunEngine passes those of the runs it holds). */
  waiversOn: WaiversOn;
  now?: number;
}

/** The PostgreSQL type of each check_results column, for the unnest() of a batch's rows. */
const COLUMN_TYPES: Record<(typeof CHECK_RESULT_COLUMNS)[number], string> = {
  task_id: "text", check_id: "text", kind: "text", precondition: "integer", status: "text", summary: "text", reason: "text", hint: "text",
  started_at: "bigint", duration_ms: "bigint", attempts: "integer", stdout_tail: "text", stderr_tail: "text", origin_machine_id: "text",
  origin_hostname: "text", origin_boot_id: "text", cases_json: "text", attempts_json: "text", captured_json: "text", waiver_json: "text", run_as: "text",
};

// A replaced result takes a new rowid, as INSERT OR REPLACE gives it on SQLite (capturesOf orders by it).
const UPSERT_RESULTS =
  `INSERT INTO check_results (${CHECK_RESULT_COLUMNS.join(", ")}) ` +
  `SELECT * FROM unnest(${CHECK_RESULT_COLUMNS.map((c, i) => `$${i + 1}::${COLUMN_TYPES[c]}[]`).join(", ")}) ` +
  `ON CONFLICT (task_id, check_id) DO UPDATE SET ${CHECK_RESULT_COLUMNS.filter((c) => c !== "task_id" && c !== "check_id").map((c) => `${c} = EXCLUDED.${c}`).join(", ")}, rowid = DEFAULT`;

/**
 * PostgreSQL text cannot hold U+0000, which SQLite stores and a check's output tail may carry: it
 * is stored as U+FFFD, the replacement character, rather than failing the batch (and, retried
 * alone, the node's stream) on one byte of output.
 */
function pgValue(v: string | number | bigint): string | number {
  if (typeof v === "bigint") return v.toString();
  return typeof v === "string" && v.includes("\u0000") ? v.replaceAll("\u0000", "\uFFFD") : v;
}

const key = (node: string, seq: bigint | string) => `${node}\u0000${seq}`;

/**
 * Commits a batch of agent events in one transaction and returns one outcome per event, in order,
 * as recordAgentEvent would have for each in turn: "duplicate" for a (node, seq) already stored
 * (or earlier in the same batch). Throws, and commits nothing of the batch, when any statement fails.
 */
export async function commitAgentEvents(client: PgClient, events: readonly PgIncomingEvent[], options: PgCommitOptions): Promise<CommitOutcome[]> {
  if (events.length === 0) return [];
  return inPgTransaction(client, () => recordAgentEventsPg(client, events, options));
}

/** commitAgentEvents inside the caller's transaction: the caller commits, or rolls back on a throw. */
export async function recordAgentEventsPg(client: PgClient, events: readonly PgIncomingEvent[], options: PgCommitOptions): Promise<CommitOutcome[]> {
  if (events.length === 0) return [];
  const now = options.now ?? Date.now();
  // Rows go in (node, seq) order, so batches that overlap lock their common rows in the same
  // order and wait for each other instead of deadlocking.
  const sorted = events.map((e, i) => ({ ...e, i })).sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : a.event.seq < b.event.seq ? -1 : a.event.seq > b.event.seq ? 1 : a.i - b.i));
  const inserted = await client.query<{ node_name: string; seq: string }>(
    `INSERT INTO agent_events (node_name, seq, received_at, origin_boot_id)
     SELECT n, s, $3, b FROM unnest($1::text[], $2::bigint[], $4::text[]) AS e(n, s, b)
     ON CONFLICT (node_name, seq) DO NOTHING RETURNING node_name, seq`,
    [sorted.map((e) => e.node), sorted.map((e) => e.event.seq.toString()), now, sorted.map((e) => pgValue(e.event.origin?.bootId ?? ""))],
  );
  // The first of the batch's events with a key new to the store is the one that stored it.
  const unclaimed = new Set(inserted.rows.map((r) => key(r.node_name, r.seq)));
  const fresh = events.map((e) => unclaimed.delete(key(e.node, e.event.seq)));

  const repeated = events.filter((_, i) => !fresh[i]);
  const storedBoot = new Map<string, string>();
  if (repeated.length) {
    const found = await client.query<{ node_name: string; seq: string; origin_boot_id: string }>(
      "SELECT node_name, seq, origin_boot_id FROM agent_events WHERE (node_name, seq) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))",
      [repeated.map((e) => e.node), repeated.map((e) => e.event.seq.toString())],
    );
    for (const r of found.rows) storedBoot.set(key(r.node_name, r.seq), r.origin_boot_id);
  }

  const taskIds = [...new Set(events.filter((_, i) => fresh[i]).map((e) => eventTaskId(e.event)).filter((id): id is string => id !== undefined))];
  const tasks = new Map<string, TaskRow>();
  if (taskIds.length) {
    for (const r of (await client.query<RawTask>("SELECT * FROM tasks WHERE id = ANY($1::text[])", [taskIds])).rows) tasks.set(r.id, taskFromRow(r));
  }

  // One row per (task, check): a later result of the batch replaces an earlier one, as it would
  // row by row, and goes in at its own place in the order (Map order: delete, then set).
  const rows = new Map<string, (string | number)[]>();
  const outcomes: CommitOutcome[] = [];
  for (const [i, { node, machineId, event }] of events.entries()) {
    if (!fresh[i]) {
      outcomes.push(duplicateOutcome(storedBoot.get(key(node, event.seq)) ?? "", event.origin?.bootId ?? ""));
      continue;
    }
    const taskId = eventTaskId(event);
    const judged = judgeEvent(node, machineId, event, taskId === undefined ? undefined : tasks.get(taskId));
    if ("outcome" in judged) {
      outcomes.push(judged.outcome);
      continue;
    }
    const done = taskDoneOutcome(event, judged.apply);
    if (done) {
      outcomes.push(done);
      continue;
    }
    const { result, runFlag } = resultToStore(event, judged.apply, node, options.waiversOn);
    if (runFlag) await addRunFlagPg(client, judged.apply.runId, runFlag, now);
    const rowKey = `${judged.apply.id}\u0000${result.checkId}`;
    rows.delete(rowKey);
    rows.set(rowKey, checkResultValues(judged.apply.id, result, event).map(pgValue));
    outcomes.push({ kind: "check", task: judged.apply, result });
  }
  if (rows.size) {
    const values = [...rows.values()];
    await client.query(UPSERT_RESULTS, CHECK_RESULT_COLUMNS.map((_, c) => values.map((row) => row[c])));
  }
  return outcomes;
}
