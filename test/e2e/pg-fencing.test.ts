// Write fencing on PostgreSQL (issue 19, coordinator/store/pg/sync-worker.ts checkFence): an
// active coordinator that lost the lead without knowing it yet — stalled, or cut off from its
// election session while its store connection lives — writes nothing once another coordinator
// has taken the lead, and a coordinator taking the lead waits for a transaction of the old one
// that is already past the check. Two real connections to one real PostgreSQL.
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PgStoreError, PgSyncDb } from "../../coordinator/store/pg/sync-db.js";
import { postgresBinary, startPostgres, type PostgresServer } from "../harness/postgres.js";
import { needsTool } from "../support/system-tools.js";

const ready = needsTool(postgresBinary("initdb"), "postgresql");

/** What the election writes when a coordinator takes the lead (coordinator/ha/election.ts tryToLead). */
const TAKE_LEAD = `INSERT INTO coordinator_lease (name, holder, address, acquired_at, renewed_at, expires_at) VALUES ('active', $1, $2, $3::bigint, $3::bigint, $3::bigint + 10000)
  ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, address = EXCLUDED.address, acquired_at = EXCLUDED.acquired_at, renewed_at = EXCLUDED.renewed_at, expires_at = EXCLUDED.expires_at`;

const INSERT_TOTAL = "INSERT INTO refusal_totals (kind, side, count, first_at, last_at) VALUES (?, 'agent', 1, 1, 1)";

describe.skipIf(!ready)("write fencing", () => {
  let server: PostgresServer;
  let url = "";
  let old: PgSyncDb;
  let admin: pg.Client;
  let n = 0;

  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => server?.stop());

  beforeEach(async () => {
    url = await server.createDatabase(`fencing_${++n}`);
    old = new PgSyncDb({ connectionString: url, applicationName: "old active", reconnectMs: 2_000, statementTimeoutMs: 30_000 });
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(TAKE_LEAD, ["a", "127.0.0.1:1", 1000]);
    old.fence({ holder: "a", acquiredAt: 1000 });
  });
  afterEach(async () => {
    old.close();
    await admin.end();
  });

  const totals = async () => (await admin.query<{ kind: string }>("SELECT kind FROM refusal_totals ORDER BY kind")).rows.map((r) => r.kind);

  it("lets the active coordinator write while its lease is the active one, in a transaction and alone", async () => {
    old.transaction(() => old.prepare(INSERT_TOTAL).run("in_transaction"))();
    old.prepare(INSERT_TOTAL).run("alone");
    expect(await totals()).toEqual(["alone", "in_transaction"]);
  });

  it("refuses every write of a coordinator whose lease was taken over, and keeps none of it", async () => {
    await admin.query(TAKE_LEAD, ["b", "127.0.0.1:2", 2000]);
    const fenced = (write: () => unknown) => {
      try {
        write();
      } catch (err) {
        return err;
      }
      return undefined;
    };
    const inTransaction = fenced(() => old.transaction(() => old.prepare(INSERT_TOTAL).run("in_transaction"))());
    const alone = fenced(() => old.prepare(INSERT_TOTAL).run("alone"));
    for (const err of [inTransaction, alone]) {
      expect(err).toBeInstanceOf(PgStoreError);
      expect((err as PgStoreError).code).toBe("conflict");
      expect((err as Error).message).toMatch(/coordinator a is no longer the active one/);
    }
    expect(await totals()).toEqual([]);
    // Reads still work: a standby serves the CLI's.
    expect(old.prepare("SELECT holder FROM coordinator_lease").get()).toEqual({ holder: "b" });
  });

  it("makes a coordinator taking the lead wait for a transaction of the old one already past the check", async () => {
    // The old active's transaction is open and past the fence (what a stalled coordinator would hold).
    old.request({ op: "begin" });
    old.prepare(INSERT_TOTAL).run("before_takeover");
    const taker = new pg.Client({ connectionString: url, statement_timeout: 500 });
    await taker.connect();
    try {
      await expect(taker.query(TAKE_LEAD, ["b", "127.0.0.1:2", 2000])).rejects.toThrow(/statement timeout/);
      old.request({ op: "commit" });
      await taker.query(TAKE_LEAD, ["b", "127.0.0.1:2", 2000]);
    } finally {
      await taker.end();
    }
    // The old one's write landed before the new one took over, so the new one reads it when it resumes.
    expect(await totals()).toEqual(["before_takeover"]);
    expect(() => old.prepare(INSERT_TOTAL).run("after_takeover")).toThrow(/no longer the active one/);
  });
});
