// The PostgreSQL side of coordinator/store/db.ts (issue 19): migrating a database and running a
// function in one transaction; PgSyncDb (sync-db.ts) migrates through it. See docs/postgresql.md.
import type pg from "pg";
import { PG_MIGRATIONS } from "./migrations.js";

/** A connection: a pg.Client, or a client checked out of a pg.Pool. */
export type PgClient = pg.ClientBase;

/**
 * Held (for one transaction) by whoever migrates: two coordinators starting at once against one
 * database must not both apply a version (or both create schema_migrations, which races in
 * PostgreSQL even with IF NOT EXISTS). An arbitrary constant, fleetgate's own.
 */
const MIGRATION_LOCK = 7_400_019_001;

/** Runs `fn` in a transaction on `client`: it commits if `fn` resolves, rolls back and rethrows if it throws. */
export async function inPgTransaction<T>(client: PgClient, fn: () => Promise<T>): Promise<T> {
  await client.query("BEGIN");
  try {
    const out = await fn();
    await client.query("COMMIT");
    return out;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {
      // the connection itself broke: the server rolls the transaction back when it notices
    });
    throw err;
  }
}

/**
 * Applies every migration not applied yet, in order, one transaction each, recording it in
 * schema_migrations as the SQLite side does (store/db.ts `migrate`). Returns the versions applied.
 */
export async function migratePg(client: PgClient, now: () => number = Date.now): Promise<number[]> {
  const lock = () => client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
  await inPgTransaction(client, async () => {
    await lock();
    await client.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
  });
  const done: number[] = [];
  for (const m of PG_MIGRATIONS) {
    const applied = await inPgTransaction(client, async () => {
      await lock();
      // Read under the lock: another coordinator may have applied it while this one waited.
      const seen = await client.query("SELECT 1 FROM schema_migrations WHERE version = $1", [m.version]);
      if (seen.rowCount) return false;
      await client.query(m.sql);
      await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [m.version, now()]);
      return true;
    });
    if (applied) done.push(m.version);
  }
  return done;
}
