// The worker thread behind PgSyncDb (sync-db.ts): it owns the one connection to PostgreSQL and
// answers one request at a time, waking the main thread (blocked in Atomics.wait) after each.
//
// A connection that breaks is made again on the next request, for up to reconnectMs (a server
// restart), except inside a transaction: the server rolled that back when the session ended, so
// every statement until the caller's ROLLBACK fails rather than running outside it.
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { migratePg } from "./db.js";
import { recordAgentEventsPg } from "./agent-events.js";
import type { Fence, PgConnectionSettings, PgFailure, PgRequest, PgResponse } from "./sync-protocol.js";

// Numbers as better-sqlite3 gives them: BIGINT (milliseconds, seqs, counts) and NUMERIC (sums,
// averages) as JavaScript numbers. Every value the store keeps is far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, Number);
pg.types.setTypeParser(pg.types.builtins.NUMERIC, Number);

interface Setup {
  port: MessagePort;
  signal: Int32Array;
}

const { port, signal } = workerData as Setup;
let settings: PgConnectionSettings | undefined;
let client: pg.Client | undefined;
let inTransaction = false;
/** The session ended inside a transaction: refuse statements until the caller rolls back. */
let transactionLost: string | undefined;
let fence: Fence | undefined;

/** Refused by the fence: another coordinator took the lead, and nothing this one writes may land. */
class Fenced extends Error {}

/**
 * Write fencing: the first statement of every transaction of an active coordinator. FOR SHARE
 * holds the lease row until the transaction ends, so a standby taking the lead (which rewrites
 * that row) waits for a transaction already past this check, and every later one finds the row
 * changed and fails: an active coordinator that lost the lead without knowing it yet (stalled,
 * cut off from its election session) cannot write after the new one took over.
 */
async function checkFence(c: pg.Client): Promise<void> {
  if (!fence) return;
  const { rowCount } = await c.query("SELECT 1 FROM coordinator_lease WHERE name = 'active' AND holder = $1 AND acquired_at = $2 FOR SHARE", [fence.holder, fence.acquiredAt]);
  if (!rowCount) throw new Fenced(`coordinator ${fence.holder} is no longer the active one (another coordinator took the lead); nothing it writes is kept`);
}

async function begin(c: pg.Client): Promise<void> {
  await c.query("BEGIN");
  inTransaction = true;
  try {
    await checkFence(c);
  } catch (err) {
    inTransaction = false;
    await c.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

function unavailable(message: string): PgFailure {
  return { message, unavailable: true };
}

function failure(err: unknown): PgFailure {
  if (err instanceof Fenced) return { message: err.message, fenced: true, unavailable: false };
  const e = err as { message?: string; code?: string };
  const sqlstate = typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  // Class 08 (connection exception), 57P01-57P03 (the server shutting down or starting), or no
  // SQLSTATE at all (a socket error): the statement may never have reached the server.
  const gone = !sqlstate || sqlstate.startsWith("08") || /^57P0[123]$/.test(sqlstate);
  return { message: e.message ?? String(err), sqlstate, unavailable: gone };
}

async function connect(s: PgConnectionSettings): Promise<pg.Client> {
  const c = new pg.Client({
    connectionString: s.connectionString,
    ...(s.password === undefined ? {} : { password: s.password }),
    application_name: s.applicationName,
    connectionTimeoutMillis: Math.max(1000, s.reconnectMs),
    statement_timeout: s.statementTimeoutMs,
  });
  c.on("error", () => dropped(c));
  c.on("end", () => dropped(c));
  await c.connect();
  return c;
}

function dropped(c: pg.Client): void {
  if (c !== client) return;
  client = undefined;
  if (inTransaction) transactionLost = "the connection to PostgreSQL broke inside a transaction; it was rolled back";
  void c.end().catch(() => {});
}

/** The connection, made again if it broke, trying for up to reconnectMs. */
async function connection(): Promise<pg.Client> {
  if (client) return client;
  if (!settings) throw new Error("the store's PostgreSQL connection was never opened");
  const deadline = performance.now() + settings.reconnectMs;
  for (;;) {
    try {
      client = await connect(settings);
      return client;
    } catch (err) {
      if (performance.now() >= deadline) throw Object.assign(new Error(`cannot reach PostgreSQL: ${(err as Error).message}`), { code: "08001" });
      await sleep(200);
    }
  }
}

async function handle(req: PgRequest): Promise<PgResponse> {
  if (req.op === "open") {
    settings = req.connection;
    await connection();
    return { ok: true, rows: [], rowCount: 0 };
  }
  // No connection needed: it only says what later transactions check.
  if (req.op === "fence") {
    fence = req.lease;
    return { ok: true, rows: [], rowCount: 0 };
  }
  if (req.op === "close") {
    const c = client;
    client = undefined;
    await c?.end().catch(() => {});
    return { ok: true, rows: [], rowCount: 0 };
  }
  if (req.op === "rollback") {
    const lost = transactionLost;
    inTransaction = false;
    transactionLost = undefined;
    if (!lost && client) await client.query("ROLLBACK");
    return { ok: true, rows: [], rowCount: 0 };
  }
  if (transactionLost) return { ok: false, error: unavailable(transactionLost) };
  if (req.op === "commit") {
    // Outcome unknown if the connection breaks now: the caller hears "unavailable" either way.
    const c = await connection();
    inTransaction = false;
    await c.query("COMMIT");
    return { ok: true, rows: [], rowCount: 0 };
  }
  const c = await connection();
  if (req.op === "begin") {
    await begin(c);
    return { ok: true, rows: [], rowCount: 0 };
  }
  if (req.op === "recordEvents") {
    // Only inside the caller's transaction (and so past its fence): the batch commits with it.
    if (!inTransaction) throw new Error("agent events are recorded inside a transaction");
    // No waived results here (sync-db.ts recordEvents keeps those on the statement path): no waivers to ask for.
    const outcomes = await recordAgentEventsPg(c, req.events, { now: req.now, waiversOn: () => [] });
    return { ok: true, rows: outcomes, rowCount: outcomes.length };
  }
  if (req.op === "migrate") {
    await migratePg(c);
    return { ok: true, rows: [], rowCount: 0 };
  }
  if (req.op === "exec") {
    await c.query(req.text);
    return { ok: true, rows: [], rowCount: 0 };
  }
  const run = async () => {
    const result = req.rowMode === "array" ? await c.query({ text: req.text, values: req.values, rowMode: "array" }) : await c.query({ text: req.text, values: req.values });
    return { ok: true as const, rows: result.rows, rowCount: result.rowCount ?? 0 };
  };
  // A write on its own, on a fenced connection: in a transaction of its own, past the fence.
  if (!req.writes || !fence || inTransaction) return run();
  await begin(c);
  try {
    const out = await run();
    inTransaction = false;
    await c.query("COMMIT");
    return out;
  } catch (err) {
    inTransaction = false;
    await c.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

port.on("message", (req: PgRequest) => {
  void handle(req)
    .catch((err: unknown): PgResponse => ({ ok: false, error: failure(err) }))
    .then((res) => {
      port.postMessage(res);
      Atomics.store(signal, 0, 1);
      Atomics.notify(signal, 0);
    });
});
parentPort?.postMessage("ready");
