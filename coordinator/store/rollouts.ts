// Rollout rows (migration 17): the request as sent and the state of coordinator/rollouts/core.ts,
// written whole after each step; and each node's known-good facts.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { StartRolloutRequestSchema, type StartRolloutRequest } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FINAL_STATUSES, isFinished, type RolloutState } from "../rollouts/core.js";
import type { Db } from "./db.js";

export interface StoredRollout {
  id: string;
  changeName: string;
  planName: string;
  createdAt: number;
  finishedAt?: number;
  startedBy: string;
  request: StartRolloutRequest;
  state: RolloutState;
}

interface Row {
  id: string;
  change_name: string;
  plan_name: string;
  created_at: number;
  finished_at: number | null;
  started_by: string;
  request: Buffer;
  state_json: string;
}

const rollout = (r: Row): StoredRollout => ({
  id: r.id,
  changeName: r.change_name,
  planName: r.plan_name,
  createdAt: r.created_at,
  finishedAt: r.finished_at ?? undefined,
  startedBy: r.started_by,
  request: fromBinary(StartRolloutRequestSchema, r.request),
  state: JSON.parse(r.state_json) as RolloutState,
});

export function insertRollout(db: Db, r: Omit<StoredRollout, "finishedAt">): void {
  db.prepare("INSERT INTO rollouts (id, change_name, plan_name, status, created_at, started_by, request, state_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)").run(
    r.id,
    r.changeName,
    r.planName,
    r.state.status,
    r.createdAt,
    r.startedBy,
    Buffer.from(toBinary(StartRolloutRequestSchema, r.request)),
    JSON.stringify(r.state),
  );
}

export function saveRolloutState(db: Db, id: string, state: RolloutState, now: number): void {
  db.prepare("UPDATE rollouts SET status = ?, state_json = ?, finished_at = ? WHERE id = ?").run(state.status, JSON.stringify(state), isFinished(state.status) ? now : null, id);
}

export function getRollout(db: Db, id: string): StoredRollout | undefined {
  const row = db.prepare("SELECT * FROM rollouts WHERE id = ?").get(id) as Row | undefined;
  return row && rollout(row);
}

/** Newest first. */
export function listRollouts(db: Db, limit: number, opts: { unfinished?: boolean } = {}): StoredRollout[] {
  const where = opts.unfinished ? `WHERE status NOT IN (${FINAL_STATUSES.map(() => "?").join(", ")})` : "";
  const params = opts.unfinished ? FINAL_STATUSES : [];
  return (db.prepare(`SELECT * FROM rollouts ${where} ORDER BY created_at DESC, rowid DESC LIMIT ?`).all(...params, limit) as Row[]).map(rollout);
}

/** The node's known-good facts: fact → value. */
export function knownGoodFacts(db: Db, node: string): Record<string, string> {
  const rows = db.prepare("SELECT fact, value FROM known_good_facts WHERE node = ? ORDER BY fact").all(node) as { fact: string; value: string }[];
  return Object.fromEntries(rows.map((r) => [r.fact, r.value]));
}

export function recordKnownGoodFacts(db: Db, node: string, facts: Record<string, string>, by: { rolloutId: string; change: string; at: number }): void {
  const put = db.prepare("INSERT INTO known_good_facts (node, fact, value, rollout_id, change_name, recorded_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (node, fact) DO UPDATE SET value = excluded.value, rollout_id = excluded.rollout_id, change_name = excluded.change_name, recorded_at = excluded.recorded_at");
  for (const [fact, value] of Object.entries(facts)) put.run(node, fact, value, by.rolloutId, by.change, by.at);
}
