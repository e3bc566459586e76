// addRunFlag (store/runs.ts) on PostgreSQL: what the event commit path needs to mark a run not
// valid for sign-off inside its own transaction.
import type { PgClient } from "./db.js";

/**
 * Marks a run not valid for sign-off; a signed-off run is immutable, so the flag goes to its
 * audit trail instead. The run row is locked first (FOR UPDATE): flags_json is read, extended and
 * written back, and two coordinators' connections must not lose each other's flag.
 */
export async function addRunFlagPg(client: PgClient, id: string, flag: string, now = Date.now()): Promise<void> {
  const found = await client.query<{ flags_json: string; signed: boolean }>(
    "SELECT flags_json, EXISTS (SELECT 1 FROM signoffs WHERE run_id = runs.id) AS signed FROM runs WHERE id = $1 FOR UPDATE",
    [id],
  );
  const row = found.rows[0];
  if (!row) return;
  if (row.signed) {
    await client.query("INSERT INTO run_audit (run_id, at, what) SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM run_audit WHERE run_id = $1 AND what = $3)", [id, now, flag]);
    return;
  }
  const flags = JSON.parse(row.flags_json) as string[];
  if (!flags.includes(flag)) await client.query("UPDATE runs SET flags_json = $1 WHERE id = $2", [JSON.stringify([...flags, flag]), id]);
}
