// PgSyncDb's connection (coordinator/store/pg/sync-db.ts, sync-worker.ts) against a real
// PostgreSQL: a statement that never answers gives the connection up and the next one works on a
// fresh one; a server restart is ridden out by reconnecting, except inside a transaction, which
// fails whole and keeps nothing; transactions nest as savepoints.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgStoreError, PgSyncDb } from "../../coordinator/store/pg/sync-db.js";
import { postgresBinary, startPostgres, type PostgresServer } from "../harness/postgres.js";
import { needsTool } from "../support/system-tools.js";

const ready = needsTool(postgresBinary("initdb"), "postgresql");

const INSERT = "INSERT INTO refusal_totals (kind, side, count, first_at, last_at) VALUES (?, 'agent', 1, 1, 1)";
const kinds = (db: PgSyncDb) => (db.prepare("SELECT kind FROM refusal_totals ORDER BY kind").pluck().all() as string[]);

function thrown(fn: () => unknown): PgStoreError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PgStoreError);
    return err as PgStoreError;
  }
  throw new Error("expected a PgStoreError");
}

describe.skipIf(!ready)("PgSyncDb's connection", () => {
  let server: PostgresServer;
  let n = 0;
  const open = async (extra: { answerTimeoutMs?: number } = {}) =>
    new PgSyncDb({ connectionString: await server.createDatabase(`sync_db_${++n}`), applicationName: "test", reconnectMs: 5_000, statementTimeoutMs: 30_000, ...extra });

  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => server?.stop());

  it("gives up a statement that does not answer in time, keeps nothing of its transaction, and works on a fresh connection after", async () => {
    const db = await open({ answerTimeoutMs: 700 });
    try {
      const err = thrown(() => db.transaction(() => {
        db.prepare(INSERT).run("before_the_stall");
        db.prepare("SELECT pg_sleep(3)").get();
      })());
      expect(err.code).toBe("unreachable");
      expect(err.message).toMatch(/did not answer within 700 ms/);
      expect(db.inTransaction).toBe(false);
      // The stalled session's transaction is rolled back by the server when its worker goes.
      db.transaction(() => {
        expect(db.inTransaction).toBe(true);
        db.prepare(INSERT).run("after_the_stall");
      })();
      expect(kinds(db)).toEqual(["after_the_stall"]);
    } finally {
      db.close();
    }
  });

  it("rides out a server restart between statements, and fails a transaction the restart cut, keeping none of it", async () => {
    const db = await open();
    try {
      db.prepare(INSERT).run("before_restart");
      await server.restart(1_000);
      // Not in a transaction: the next statement reconnects and runs.
      db.prepare(INSERT).run("after_restart");
      expect(kinds(db)).toEqual(["after_restart", "before_restart"]);

      const cut = thrown(() => db.transaction(() => {
        db.prepare(INSERT).run("in_cut_transaction");
        // The session ends under it, as in a restart.
        db.prepare("SELECT pg_terminate_backend(pg_backend_pid())").get();
      })());
      expect(cut.code).toBe("unreachable");
      expect(db.inTransaction).toBe(false);
      expect(kinds(db)).toEqual(["after_restart", "before_restart"]);
    } finally {
      db.close();
    }
  }, 60_000);

  it("nests transactions as savepoints: an inner failure undoes only the inner part", async () => {
    const db = await open();
    try {
      db.transaction(() => {
        db.prepare(INSERT).run("outer");
        expect(() => db.transaction(() => {
          db.prepare(INSERT).run("inner");
          throw new Error("inner fails");
        })()).toThrow("inner fails");
        expect(db.inTransaction).toBe(true);
      })();
      expect(kinds(db)).toEqual(["outer"]);
    } finally {
      db.close();
    }
  });
});
