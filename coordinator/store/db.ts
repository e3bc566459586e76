import Database from "better-sqlite3";
import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { MIGRATIONS } from "./migrations.js";

export type Db = Database.Database;

/**
 * Opens (creating if needed) the coordinator's SQLite file in WAL mode and migrates it. The file
 * holds token hashes and every result: 0600, like admin.token (SQLite gives -wal and -shm the
 * main file's mode).
 */
export function openDb(path: string): Db {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, "a", 0o600));
  chmodSync(path, 0o600);
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  // An ack promises the event survives anything, power loss included: WAL with synchronous=FULL
  // syncs the log at every commit (NORMAL would survive a process crash but could roll back an
  // acked commit on power loss). Agent events are committed in batches (server/commit-queue.ts),
  // so one sync serves up to 500 of them and FULL costs little over NORMAL; docs/benchmarks.md.
  db.pragma("synchronous = FULL");
  migrate(db);
  return db;
}

export function migrate(db: Db): void {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  const applied = new Set((db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[]).map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(m.version, Date.now());
    })();
  }
}

const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/**
 * `db.prepare(sql)`, once per connection and text: for the statements of the commit path, where
 * preparing cost more than running them (issue 16's profile of a batch).
 */
export function prepared(db: Db, sql: string): Database.Statement {
  let mine = statements.get(db);
  if (!mine) statements.set(db, (mine = new Map()));
  let stmt = mine.get(sql);
  if (!stmt) mine.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}

/** Runs `fn` in a transaction, or in the caller's when one is open: a batch commits, or fails, whole. */
export function inTransaction<T>(db: Db, fn: () => T): T {
  return db.inTransaction ? fn() : db.transaction(fn)();
}
