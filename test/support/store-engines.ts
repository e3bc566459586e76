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
// that needs it and stopped after the last, and a fresh database per test: a copy of one migrated
// by PgSyncDb when the server started (CREATE DATABASE … TEMPLATE, a fraction of the migrations'
// time), which PgSyncDb finds up to date when it opens it.
// Where PostgreSQL is not installed, STORE_ENGINES is SQLite alone and the file prints the
// harness's one line (a failing test under FLEETGATE_TEST_STRICT=1).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
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
const TEMPLATE = "store_template";

/** The server, and in it the migrated database every test's database is copied from. */
async function startServer(): Promise<PostgresServer> {
  const started = await startPostgres();
  try {
    const url = await started.createDatabase(TEMPLATE);
    new PgSyncDb({ connectionString: url, applicationName: "fleetgate-test", reconnectMs: 2_000, statementTimeoutMs: 30_000 }).close();
  } catch (err) {
    await started.stop();
    throw err;
  }
  return started;
}

async function acquireServer(): Promise<void> {
  users += 1;
  server ??= startServer();
  await server;
}

/** A fresh copy of the migrated template; PostgreSQL waits (up to 5 s) for the template's last session to end. */
async function freshDatabase(s: PostgresServer): Promise<string> {
  databases += 1;
  const name = `store_${databases}`;
  const admin = new pg.Client({ connectionString: s.url() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
  } finally {
    await admin.end();
  }
  return s.url(name);
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
    return { url: await freshDatabase(await server), connections: [] };
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
