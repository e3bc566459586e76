// The store's tests on both engines (issue 19): the same tests, the same assertions, once on a
// SQLite coord.db and once on PostgreSQL through PgSyncDb. A test file parameterises over
// STORE_ENGINES and asks storeOf(engine) for a fresh store in each test:
//
//   describe.each(STORE_ENGINES)("runs (%s)", (engine) => {
//     const store = storeOf(engine);
//     let db: Db;
//     beforeEach(async () => { db = await store.open(); });
//     it("…", () => { … });
//   });
//
// SQLite: a coord.db in a temp dir, as `coord serve` opens it. PostgreSQL: one throwaway server
// per test file (test/harness/postgres.ts, its own process group), started by the first describe
// that needs it and stopped after the last, and a fresh database per test, migrated by PgSyncDb.
// Where PostgreSQL is not installed, STORE_ENGINES is SQLite alone and the file prints the
// harness's one line (a failing test under FLEETGATE_TEST_STRICT=1).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll } from "vitest";
import { openDb, type Db } from "../../coordinator/store/db.js";
import { PgSyncDb } from "../../coordinator/store/pg/sync-db.js";
import { postgresBinary, startPostgres, type PostgresServer } from "../harness/postgres.js";
import { needsTool } from "./system-tools.js";

export type StoreEngine = "sqlite" | "postgres";

/** The engines this host can run: PostgreSQL only where Debian's postgresql package is installed. */
export const STORE_ENGINES: StoreEngine[] = needsTool(postgresBinary("initdb"), "postgresql") ? ["sqlite", "postgres"] : ["sqlite"];

export interface TestStore {
  readonly engine: StoreEngine;
  /** A fresh, migrated, empty store for the current test; every connection to it is closed after the test. */
  open(): Promise<Db>;
  /** The same for all the describe's tests, in its beforeAll: closed after the last of them. */
  openForAll(): Promise<Db>;
  /** Another connection to the store open() made last: what a second process, or a restarted coordinator, would open. */
  reopen(): Db;
}

// One server per test file (vitest gives each file its own module graph), shared by its describes.
let server: Promise<PostgresServer> | undefined;
let users = 0;
let databases = 0;

async function acquireServer(): Promise<void> {
  users += 1;
  server ??= startPostgres();
  await server;
}

async function releaseServer(): Promise<void> {
  users -= 1;
  if (users > 0 || !server) return;
  const started = server;
  server = undefined;
  await (await started).stop();
}

/** The store a describe's tests use on `engine`; call it in the describe's body (it adds hooks). */
export function storeOf(engine: StoreEngine): TestStore {
  /** The store of the current test, or of the whole describe (openForAll). */
  interface Opened {
    dir?: string;
    url?: string;
    connections: Db[];
  }
  let current: Opened | undefined;
  let forAll: Opened | undefined;

  const closeAll = (opened: Opened | undefined) => {
    if (!opened) return;
    for (const db of opened.connections.splice(0)) if (db.open) db.close();
    if (opened.dir) rmSync(opened.dir, { recursive: true, force: true });
  };

  const connect = (): Db => {
    const opened = current ?? forAll;
    if (!opened) throw new Error("store-engines: reopen() before open()");
    let db: Db;
    if (engine === "sqlite") db = openDb(join(opened.dir as string, "coord.db"));
    else db = new PgSyncDb({ connectionString: opened.url as string, applicationName: "fleetgate-test", reconnectMs: 2_000, statementTimeoutMs: 30_000 });
    opened.connections.push(db);
    return db;
  };

  const create = async (): Promise<Opened> => {
    if (engine === "sqlite") return { dir: mkdtempSync(join(tmpdir(), "fleetgate-store-")), connections: [] };
    if (!server) throw new Error("store-engines: open() outside a test or hook of the describe that called storeOf");
    databases += 1;
    return { url: await (await server).createDatabase(`store_${process.pid}_${databases}`), connections: [] };
  };

  if (engine === "postgres") beforeAll(acquireServer, 120_000);
  afterEach(() => {
    closeAll(current);
    current = undefined;
  });
  afterAll(async () => {
    closeAll(forAll);
    forAll = undefined;
    if (engine === "postgres") await releaseServer();
  }, 60_000);

  return {
    engine,
    async open() {
      current = await create();
      return connect();
    },
    async openForAll() {
      forAll = await create();
      return connect();
    },
    reopen: connect,
  };
}
