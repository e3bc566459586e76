import Database from "better-sqlite3";
import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { MIGRATIONS } from "./migrations.js";

/** What a statement's run() says: rows changed (lastInsertRowid is SQLite's alone; say RETURNING id). */
export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

/** better-sqlite3's way of naming a function's parameters, so its Database is a Db as is. */
export type ArgumentTypes<F> = F extends (...args: infer A) => unknown ? A : never;

/** A prepared statement, as better-sqlite3 has it; pg/sync-db.ts gives PostgreSQL the same. */
export interface Statement {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
  /** Rows as arrays of column values, in the statement's column order. */
  raw(toggle?: boolean): this;
  /** Each row as its first column's value. */
  pluck(toggle?: boolean): this;
}

/**
 * The store's connection (issue 19): better-sqlite3's own interface, which the SQLite file
 * (openDb) has as is and a PostgreSQL database (pg/sync-db.ts PgSyncDb) has through a worker.
 * Synchronous on both, so a decision that reads and writes the store runs without interleaving.
 */
export interface Db {
  prepare(sql: string): Statement;
  exec(sql: string): this;
  /** `fn` wrapped to run in one transaction (a savepoint when one is open): it commits, or throws and keeps nothing. */
  transaction<F extends (...args: any[]) => any>(fn: F): (...args: ArgumentTypes<F>) => ReturnType<F>;
  readonly inTransaction: boolean;
  /** False once closed. */
  readonly open: boolean;
  close(): void;
}

/** The SQLite store's connection: a Db, and better-sqlite3's pragmas for benches and tests. */
export type SqliteDb = Database.Database;

/**
 * Opens (creating if needed) the coordinator's SQLite file in WAL mode and migrates it. The file
 * holds token hashes and every result: 0600, like admin.token (SQLite gives -wal and -shm the
 * main file's mode).
 */
export function openDb(path: string): SqliteDb {
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

export function migrate(db: SqliteDb): void {
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

const statements = new WeakMap<Db, Map<string, Statement>>();

/**
 * `db.prepare(sql)`, once per connection and text: for the statements of the commit path, where
 * preparing cost more than running them (issue 16's profile of a batch).
 */
export function prepared(db: Db, sql: string): Statement {
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
