// A run and its tasks in a PostgreSQL store, laid out as store/runs.ts insertRun lays them out on
// SQLite (status 'running', tasks 'pending' in plan order): what the event commit path needs to
// find. For tests and the store bench only, until runs themselves are ported (docs/postgresql.md).
import type pg from "pg";
import type { NewTask } from "../../coordinator/store/runs.js";

export async function insertRunPg(client: pg.ClientBase, runId: string, tasks: NewTask[], now = Date.now()): Promise<void> {
  await client.query(
    `INSERT INTO runs (id, plan_name, plan_path, plan_yaml, suites_json, stages_json, status, created_at, plan_rev)
     VALUES ($1, 'test', 'test.plan.yaml', 'plan: test', '{}', $2, 'running', $3, $1)`,
    [runId, JSON.stringify([...new Set(tasks.map((t) => t.stageId))]), now],
  );
  await client.query(
    `INSERT INTO tasks (id, run_id, ordinal, stage_id, node_name, iteration, suite_path, allow_destructive, status)
     SELECT id, $1, ord - 1, stage, node, it, suite, 0, 'pending' FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::text[]) WITH ORDINALITY AS t(id, stage, node, it, suite, ord)`,
    [runId, tasks.map((t) => t.id), tasks.map((t) => t.stageId), tasks.map((t) => t.nodeName), tasks.map((t) => t.iteration), tasks.map((t) => t.suitePath)],
  );
}
