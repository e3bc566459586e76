// /readyz: can the coordinator do its work now. It can only if it can commit an agent's result
// (acks wait for commits, so an unwritable store stalls every agent) and its store has the schema
// this coordinator expects. Both are tried for real at each probe: a file is written and synced
// in the state dir, and a row is written and committed in coord.db.
import { closeSync, fsyncSync, openSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Db } from "../store/db.js";
import { MIGRATIONS } from "../store/migrations.js";

/** Left in the state dir only if the coordinator dies between writing and removing it. */
export const READY_PROBE_FILE = ".ready-probe";

/** Why the applied migrations are not the ones this coordinator knows, or undefined when they are. Pure. */
export function migrationProblem(applied: readonly number[], known: readonly number[] = MIGRATIONS.map((m) => m.version)): string | undefined {
  const have = new Set(applied);
  const pending = known.filter((v) => !have.has(v));
  if (pending.length) return `store migrations not applied: ${pending.join(", ")}; restart coord serve to apply them`;
  const mine = new Set(known);
  const newer = applied.filter((v) => !mine.has(v));
  if (newer.length) return `the store has migrations this coordinator does not know (${newer.join(", ")}): a newer fleetgate wrote it; run that version`;
  return undefined;
}

function errorText(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * A new file, written and synced: a state dir on a read-only mount, a full disk or a dead device
 * fails here, even while coord.db's already open descriptors still write.
 */
function stateDirProblem(stateDir: string): string | undefined {
  const file = join(stateDir, READY_PROBE_FILE);
  try {
    const fd = openSync(file, "w", 0o600);
    try {
      writeSync(fd, "ready\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    unlinkSync(file);
    return undefined;
  } catch (err) {
    return `cannot write in the state dir ${stateDir}: ${(err as NodeJS.ErrnoException).code ?? errorText(err)}`;
  }
}

/**
 * A row written and taken out again in one committed transaction: SQLite skips an update that
 * changes nothing, but a row added and removed dirties a page, so the commit really appends to
 * the WAL and syncs it. No reader ever sees the row (version -1 is no migration).
 */
function storeProblem(db: Db): string | undefined {
  try {
    db.transaction(() => {
      db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (-1, 0)").run();
      db.prepare("DELETE FROM schema_migrations WHERE version = -1").run();
    })();
  } catch (err) {
    return `the store refuses writes: ${errorText(err)}`;
  }
  const applied = (db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[]).map((r) => r.version);
  return migrationProblem(applied);
}

/** Why the coordinator is not ready, one line, or undefined when it is. */
export function notReady(db: Db, stateDir: string): string | undefined {
  if (!db.open) return "the store is closed (coordinator stopping)";
  return stateDirProblem(stateDir) ?? storeProblem(db);
}

/**
 * `probe` at most once per `intervalMs`; a request in between gets the last answer. The listener
 * has no auth, and each probe costs two fsyncs: a flood of /readyz must not become disk load.
 */
export function throttled(probe: () => string | undefined, intervalMs = 1000, now: () => number = Date.now): () => string | undefined {
  let last: { at: number; answer: string | undefined } | undefined;
  return () => {
    const t = now();
    if (!last || t - last.at >= intervalMs) last = { at: t, answer: probe() };
    return last.answer;
  };
}
