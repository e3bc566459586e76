// Run rows: what was asked for (plan, suites, options, overrides), how it ended, and lookups.
import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { NodeIdentitySchema, WaiverSchema, type NodeIdentity, type Waiver } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { waiversFor } from "../../shared/model/waivers.js";
import { Status, statusFromName, statusName } from "../../shared/model/status.js";
import type { SkipRecord } from "../sequencer/run-types.js";
import type { StoredFleetRoster } from "../fleet/run-roster.js";
import type { Db } from "./db.js";
import { isPostgres } from "./pg/sync-db.js";
import { insertTasks, type NewTask } from "./tasks.js";

export type { FaultSpec, NewTask } from "./tasks.js";
export type { SkipRecord };

export interface NewRun {
  id: string;
  planName: string;
  planPath: string;
  planYaml: string;
  suites: Record<string, string>;
  stages: string[];
  flags: string[];
  createdAt: number;
  mode: RunMode;
  /** sha256 over the plan and the suites it uses. */
  planRevision: string;
  options: RunOptions;
  /** The run's nodes as registered when it started. */
  nodes: NodeIdentity[];
}

export type RunMode = "full" | "quick";

/** How the run was asked for, beyond stages and nodes. */
export interface RunOptions {
  skips?: SkipRecord[];
  withLegs?: string[];
  bindings?: { stageId: string; role: string; node: string }[];
  /** Why the run can never be signed off, e.g. a role=dev node named with --node. */
  unsignable?: string[];
  /** How the run is narrower than its plan (--iterations, --node, --only, --tags, --quick, --skip, --with). */
  overrides?: { name: string; detail: string }[];
  /** How the coordinator served when the run started; runs from before TLS have none (plaintext). */
  transport?: "tls" | "plaintext";
  /** coord run --waivers: every waiver given, as WaiverSchema JSON, marked expired at the run's start. */
  waivers?: JsonValue[];
  /** coord run --var / --vars-file: values over the suites' vars, sent with every task. Never secret (coordinator/cli/run-vars.ts). */
  vars?: Record<string, string>;
  /** coord serve --tailscale-tag: the fleet machines without an agent when the run started (fleet/run-roster.ts). */
  fleetRoster?: StoredFleetRoster;
  /** A phase of a rollout (coordinator/rollouts/): which one, so a restarted coordinator finds it again. */
  rollout?: RunOrigin;
}

/** The rollout phase a run carries out. */
export interface RunOrigin {
  rollout: string;
  node: string;
  phase: string;
}

/** The rollout phase the run carries out, if it does: one field read, not the run's row. */
// JSON paths have no text both engines run: SQLite's json_extract, PostgreSQL's jsonb operators
// (options_json is TEXT on both). Each pair below says the same thing.
export function runOrigin(db: Db, runId: string): RunOrigin | undefined {
  const sql = isPostgres(db)
    ? "SELECT options_json::jsonb ->> 'rollout' AS origin FROM runs WHERE id = ?"
    : "SELECT json_extract(options_json, '$.rollout') AS origin FROM runs WHERE id = ?";
  const row = db.prepare(sql).get(runId) as { origin: string | null } | undefined;
  return row?.origin ? (JSON.parse(row.origin) as RunOrigin) : undefined;
}

/** Runs started for this rollout phase (normally one), oldest first. */
export function runsOfOrigin(db: Db, origin: RunOrigin): string[] {
  const sql = isPostgres(db)
    ? "SELECT id FROM runs WHERE options_json::jsonb #>> '{rollout,rollout}' = ? AND options_json::jsonb #>> '{rollout,node}' = ? AND options_json::jsonb #>> '{rollout,phase}' = ? ORDER BY created_at, rowid"
    : "SELECT id FROM runs WHERE json_extract(options_json, '$.rollout.rollout') = ? AND json_extract(options_json, '$.rollout.node') = ? AND json_extract(options_json, '$.rollout.phase') = ? ORDER BY created_at, rowid";
  const rows = db.prepare(sql).all(origin.rollout, origin.node, origin.phase) as { id: string }[];
  return rows.map((r) => r.id);
}

/** The run's waivers (every one given, the expired ones marked). */
export function runWaivers(run: Pick<NewRun, "options">): Waiver[] {
  return (run.options.waivers ?? []).map((w) => fromJson(WaiverSchema, w));
}

/** The waivers in force on `node` in this run: not expired, matching its name or its role label. */
export function runWaiversOn(run: Pick<NewRun, "options" | "nodes">, node: string): Waiver[] {
  const role = run.nodes.find((n) => n.name === node)?.labels.role ?? "";
  return waiversFor(runWaivers(run), { node, role });
}

export function insertRun(db: Db, run: NewRun, tasks: NewTask[]): void {
  db.transaction(() => {
    db.prepare(
      `INSERT INTO runs (id, plan_name, plan_path, plan_yaml, suites_json, stages_json, status, created_at, flags_json, mode, plan_rev, options_json, nodes_json)
       VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)`,
    ).run(run.id, run.planName, run.planPath, run.planYaml, JSON.stringify(run.suites), JSON.stringify(run.stages), run.createdAt, JSON.stringify(run.flags),
      run.mode, run.planRevision, JSON.stringify(run.options), JSON.stringify(run.nodes.map((n) => toJson(NodeIdentitySchema, n))));
    insertTasks(db, run.id, tasks);
  })();
}

export function finishRun(db: Db, id: string, status: Status, now = Date.now()): void {
  db.prepare("UPDATE runs SET status = ?, finished_at = ? WHERE id = ?").run(statusName(status), now, id);
}

/**
 * Marks a run not valid for sign-off. A signed-off run is immutable: its verdict no longer
 * changes, and the flag goes to its audit trail (runAudit) instead.
 */
export function addRunFlag(db: Db, id: string, flag: string, now = Date.now()): void {
  // CASE: an EXISTS is 1 or 0 on SQLite, a boolean on PostgreSQL.
  const row = db.prepare("SELECT flags_json, CASE WHEN EXISTS (SELECT 1 FROM signoffs WHERE run_id = runs.id) THEN 1 ELSE 0 END AS signed FROM runs WHERE id = ?").get(id) as
    | { flags_json: string; signed: number }
    | undefined;
  if (!row) return;
  if (row.signed) {
    const known = db.prepare("SELECT 1 FROM run_audit WHERE run_id = ? AND what = ?").get(id, flag);
    if (!known) db.prepare("INSERT INTO run_audit (run_id, at, what) VALUES (?, ?, ?)").run(id, now, flag);
    return;
  }
  const flags = JSON.parse(row.flags_json) as string[];
  if (!flags.includes(flag)) db.prepare("UPDATE runs SET flags_json = ? WHERE id = ?").run(JSON.stringify([...flags, flag]), id);
}

export interface StoredRun extends NewRun {
  status: Status;
  finishedAt: number | null;
  signoff?: SignoffRecord;
}

export interface SignoffRecord {
  by: string;
  at: number;
  accepted: SkipRecord[];
  /** Overrides (RunOptions.overrides) accepted by name, each with a reason. */
  acceptedOverrides: SkipRecord[];
  /** The waivers that covered a check of the run when it was signed off, as WaiverSchema JSON. */
  waivers?: JsonValue[];
}

interface RawRun {
  id: string;
  plan_name: string;
  plan_path: string;
  plan_yaml: string;
  suites_json: string;
  stages_json: string;
  status: string;
  created_at: number;
  finished_at: number | null;
  flags_json: string;
  mode: string;
  plan_rev: string;
  options_json: string;
  nodes_json: string;
  signed_by: string | null;
  signed_at: number | null;
  accepted_json: string | null;
  accepted_overrides_json: string | null;
  waivers_json: string | null;
}

const RUN_SELECT = "SELECT r.*, s.signed_by, s.signed_at, s.accepted_json, s.accepted_overrides_json, s.waivers_json FROM runs r LEFT JOIN signoffs s ON s.run_id = r.id";

function runFromRow(r: RawRun): StoredRun {
  return {
    id: r.id,
    planName: r.plan_name,
    planPath: r.plan_path,
    planYaml: r.plan_yaml,
    suites: JSON.parse(r.suites_json) as Record<string, string>,
    stages: JSON.parse(r.stages_json) as string[],
    status: statusFromName(r.status),
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    flags: JSON.parse(r.flags_json) as string[],
    mode: r.mode === "quick" ? "quick" : "full",
    planRevision: r.plan_rev,
    options: JSON.parse(r.options_json) as RunOptions,
    nodes: (JSON.parse(r.nodes_json) as JsonValue[]).map((n) => fromJson(NodeIdentitySchema, n)),
    signoff: r.signed_by
      ? {
          by: r.signed_by,
          at: r.signed_at ?? 0,
          accepted: JSON.parse(r.accepted_json ?? "[]") as SkipRecord[],
          acceptedOverrides: JSON.parse(r.accepted_overrides_json ?? "[]") as SkipRecord[],
          waivers: JSON.parse(r.waivers_json ?? "[]") as JsonValue[],
        }
      : undefined,
  };
}

export function getRun(db: Db, id: string): StoredRun | undefined {
  const r = db.prepare(`${RUN_SELECT} WHERE r.id = ?`).get(id) as RawRun | undefined;
  return r && runFromRow(r);
}

export interface RunFilter {
  status?: Status;
  planName?: string;
  planRevision?: string;
  signedOnly?: boolean;
  mode?: RunMode;
  /** true: only runs that have finished; false: only runs still going. */
  finished?: boolean;
  /** Only runs created before this one (in the list's own order: created_at, then insertion). */
  before?: string;
}

/** Newest first; at most `limit` of them (Infinity: all). */
export function listRuns(db: Db, limit: number, filter: RunFilter = {}): StoredRun[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  const add = (clause: string, ...values: (string | number)[]) => {
    where.push(clause);
    args.push(...values);
  };
  if (filter.status !== undefined) add("r.status = ?", statusName(filter.status));
  if (filter.planName) add("r.plan_name = ?", filter.planName);
  if (filter.planRevision) add("r.plan_rev = ?", filter.planRevision);
  if (filter.signedOnly) add("s.signed_by IS NOT NULL");
  if (filter.mode) add("r.mode = ?", filter.mode);
  if (filter.finished !== undefined) add(filter.finished ? "r.finished_at IS NOT NULL" : "r.finished_at IS NULL");
  if (filter.before) add("(r.created_at, r.rowid) < (SELECT created_at, rowid FROM runs WHERE id = ?)", filter.before);
  // No LIMIT at all for every run: PostgreSQL refuses SQLite's LIMIT -1.
  const limited = Number.isFinite(limit);
  const sql = `${RUN_SELECT}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY r.created_at DESC, r.rowid DESC${limited ? " LIMIT ?" : ""}`;
  return (db.prepare(sql).all(...args, ...(limited ? [limit] : [])) as RawRun[]).map(runFromRow);
}

/**
 * How a stage ended in the newest finished full-mode, full-scope run of this plan revision that ran it: what
 * gating asks when a stage is run on its own. Undefined when no such run exists.
 */
export function latestStageOutcome(
  db: Db,
  planName: string,
  planRevision: string,
  stageId: string,
  /** Override names that disqualify a run: it did not verify the whole stage. */
  narrowing: string[],
): { runId: string; statuses: Status[] } | undefined {
  // No override of the run among `narrowing` (a JSON array): the JSON walk is each engine's own.
  const narrowed = isPostgres(db)
    ? "SELECT 1 FROM jsonb_array_elements(r.options_json::jsonb -> 'overrides') o WHERE o.value ->> 'name' IN (SELECT jsonb_array_elements_text(CAST(? AS jsonb)))"
    : "SELECT 1 FROM json_each(r.options_json, '$.overrides') o WHERE json_extract(o.value, '$.name') IN (SELECT value FROM json_each(?))";
  const runs = db
    .prepare(
      `SELECT r.id FROM runs r WHERE r.plan_name = ? AND r.plan_rev = ? AND r.mode = 'full' AND r.finished_at IS NOT NULL
         AND EXISTS (SELECT 1 FROM tasks t WHERE t.run_id = r.id AND t.stage_id = ?)
         AND NOT EXISTS (${narrowed})
       ORDER BY r.created_at DESC, r.rowid DESC LIMIT 1`,
    )
    .get(planName, planRevision, stageId, JSON.stringify(narrowing)) as { id: string } | undefined;
  if (!runs) return undefined;
  const statuses = (db.prepare("SELECT status FROM tasks WHERE run_id = ? AND stage_id = ? ORDER BY ordinal").all(runs.id, stageId) as { status: string }[]).map((r) => statusFromName(r.status));
  return { runId: runs.id, statuses };
}

/** What was learnt about a signed-off run afterwards, oldest first, each with when. */
export function runAudit(db: Db, id: string): { at: number; what: string }[] {
  return db.prepare("SELECT at, what FROM run_audit WHERE run_id = ? ORDER BY id").all(id) as { at: number; what: string }[];
}
