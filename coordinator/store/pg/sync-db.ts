// The coordinator's store on PostgreSQL (issue 19), with the same synchronous interface as
// better-sqlite3 (store/db.ts `Db`), so every store module and every decision built on them runs
// unchanged on either engine.
//
// Why synchronous: the coordinator's decisions read and write the store in one turn of the event
// loop (a task is claimed and sent, a result is checked against its task and stored, a run is
// judged and closed) and rely on nothing else running in between; that is what keeps a check from
// running twice and a result from counting twice. An async store would open a gap in each of
// them. So the main thread sends each statement to a worker thread that owns the connection and
// waits (Atomics.wait) for the answer: a statement costs a loopback round trip more than on
// SQLite (docs/benchmarks.md, `npm run bench -- store`), and nothing interleaves.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import { FleetgateError } from "../../../shared/errors.js";
import type { ArgumentTypes, Db, RunResult, Statement } from "../db.js";
import { waitForAnswer } from "./answer-wait.js";
import { bindValues, toPgText, type PgText } from "./placeholders.js";
import type { CommitOutcome } from "../event-rules.js";
import type { PgIncomingEvent } from "./agent-events.js";
import type { Fence, PgConnectionSettings, PgRequest, PgResponse } from "./sync-protocol.js";

/** The compiled worker: beside this module when running from dist/, under dist/ when running the sources (vitest). */
function workerFile(): URL {
  const here = new URL("./sync-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL("../../../dist/coordinator/store/pg/sync-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new FleetgateError("internal", `the PostgreSQL store's worker is not built (${fileURLToPath(built)}): run npm run build`);
}

/**
 * A store failure: the statement's own (bad SQL, a constraint: "internal"), the server out of
 * reach ("unreachable"), or this coordinator fenced off because another took the lead ("conflict").
 */
export class PgStoreError extends FleetgateError {
  constructor(
    message: string,
    /** PostgreSQL's SQLSTATE, e.g. 23505 for a unique violation. */
    readonly sqlstate: string | undefined,
    unavailable: boolean,
    fenced = false,
  ) {
    super(fenced ? "conflict" : unavailable ? "unreachable" : "internal", message);
  }

  /** The server could not be reached or the session broke: the write may or may not have happened. */
  get unavailable(): boolean {
    return this.code === "unreachable";
  }
}

export interface PgSyncDbOptions extends PgConnectionSettings {
  /** How long the main thread waits for one answer before it gives the connection up for lost. */
  answerTimeoutMs?: number;
  /** False for a tool that only reads (coord prune): the database of a coordinator of another version is left as it is. Default true. */
  migrate?: boolean;
}

export class PgSyncDb implements Db {
  private worker: Worker;
  private port: MessagePort;
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private readonly statements = new Map<string, PgText>();
  private depth = 0;
  private closed = false;
  private readonly answerTimeoutMs: number;
  private fenceLease: Fence | undefined;

  /** Connects (trying for up to reconnectMs) and applies the migrations not applied yet. */
  constructor(private readonly settings: PgSyncDbOptions) {
    this.answerTimeoutMs = settings.answerTimeoutMs ?? settings.reconnectMs + settings.statementTimeoutMs + 5_000;
    ({ worker: this.worker, port: this.port } = this.spawn());
    try {
      this.request({ op: "open", connection: this.connectionSettings() });
      if (settings.migrate !== false) this.request({ op: "migrate" });
    } catch (err) {
      this.close();
      throw err;
    }
  }

  get open(): boolean {
    return !this.closed;
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  prepare(sql: string): Statement {
    let text = this.statements.get(sql);
    if (!text) this.statements.set(sql, (text = toPgText(sql)));
    return new PgStatement(this, sql, text);
  }

  exec(sql: string): this {
    this.request({ op: "exec", text: sql });
    return this;
  }

  transaction<F extends (...args: any[]) => any>(fn: F): (...args: ArgumentTypes<F>) => ReturnType<F> {
    return (...args: ArgumentTypes<F>) => {
      // Nested: a savepoint, as better-sqlite3 does, so an inner failure undoes only the inner part.
      const outer = this.depth;
      const savepoint = outer > 0 ? `fleetgate_${outer}` : undefined;
      if (savepoint) this.request({ op: "exec", text: `SAVEPOINT ${savepoint}` });
      else this.request({ op: "begin" });
      this.depth = outer + 1;
      let out: ReturnType<F>;
      try {
        out = fn(...args) as ReturnType<F>;
      } catch (err) {
        // Set, not decremented: a worker started over (request) has reset the depth to 0 already.
        this.depth = Math.min(outer, this.depth);
        try {
          if (savepoint) this.request({ op: "exec", text: `ROLLBACK TO SAVEPOINT ${savepoint}` });
          else this.request({ op: "rollback" });
        } catch {
          // the first failure is the one to report; the server rolls back a broken session itself
        }
        throw err;
      }
      this.depth = outer;
      if (savepoint) this.request({ op: "exec", text: `RELEASE SAVEPOINT ${savepoint}` });
      else this.request({ op: "commit" });
      return out;
    };
  }

  /**
   * Agent events recorded in one round trip (agent-events.ts recordAgentEventsPg), inside the open
   * transaction: the same outcomes and rows as recordAgentEvent one by one. Events a waiver may
   * judge are not taken here (the worker cannot ask the engine's waivers): the caller records those.
   */
  recordEvents(events: readonly PgIncomingEvent[], now: number): CommitOutcome[] {
    if (!this.inTransaction) throw new FleetgateError("internal", "agent events are recorded inside a transaction");
    // Only what the worker needs: the stream an event came on stays here.
    const plain = events.map(({ node, machineId, event }) => ({ node, machineId, event }));
    return this.request({ op: "recordEvents", events: plain, now }).rows as CommitOutcome[];
  }

  /**
   * Write fencing (sync-worker.ts checkFence): while `lease` is set, every transaction, and every
   * write outside one, first checks that this lease is still the active one's, and fails with a
   * "conflict" PgStoreError when another coordinator has taken the lead since.
   */
  fence(lease: Fence | undefined): void {
    this.fenceLease = lease;
    this.request({ op: "fence", lease });
  }

  close(): void {
    if (this.closed) return;
    try {
      this.request({ op: "close" });
    } catch {
      // closing anyway
    }
    this.closed = true;
    void this.worker.terminate();
    this.port.close();
  }

  /** One request to the worker and its answer, waiting synchronously. */
  request(req: PgRequest): { rows: unknown[]; rowCount: number } {
    if (this.closed) throw new FleetgateError("internal", "the PostgreSQL store is closed");
    Atomics.store(this.signal, 0, 0);
    this.port.postMessage(req);
    const { answer: message, waited } = waitForAnswer(this.signal, this.port, this.answerTimeoutMs);
    const answer = message as PgResponse | undefined;
    if (!answer) {
      // The worker is stuck (a server that stopped answering): start over with a new one, whose
      // connection knows nothing of this one's transaction, which the server rolls back.
      this.restartWorker();
      this.depth = 0;
      throw new PgStoreError(`PostgreSQL did not answer within ${this.answerTimeoutMs} ms (${waited})`, undefined, true);
    }
    if (!answer.ok) throw new PgStoreError(answer.error.message, answer.error.sqlstate, answer.error.unavailable, answer.error.fenced);
    return answer;
  }

  private connectionSettings(): PgConnectionSettings {
    const { answerTimeoutMs: _timeout, migrate: _migrate, ...settings } = this.settings;
    return settings;
  }

  private spawn(): { worker: Worker; port: MessagePort } {
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(workerFile(), { workerData: { port: port2, signal: this.signal }, transferList: [port2] });
    // The coordinator must be able to exit with the worker still up (close() ends it anyway).
    worker.unref();
    worker.on("error", () => {
      // A worker that died answers nothing: the next request times out and starts a new one.
    });
    return { worker, port: port1 };
  }

  private restartWorker(): void {
    void this.worker.terminate();
    this.port.close();
    ({ worker: this.worker, port: this.port } = this.spawn());
    this.request({ op: "open", connection: this.connectionSettings() });
    if (this.fenceLease) this.request({ op: "fence", lease: this.fenceLease });
  }
}

/**
 * Whether `db` is a PostgreSQL store: for the few statements with no text both engines run (JSON
 * paths), which keep both texts side by side. Everything else is written once.
 */
export function isPostgres(db: Db): boolean {
  return db instanceof PgSyncDb;
}

/** Statements that change rows, by their first word (a CTE is read to its main statement by PostgreSQL, never used here for writes). */
const WRITES = /^\s*(INSERT|UPDATE|DELETE)\b/i;

class PgStatement implements Statement {
  private rowMode: "object" | "array" = "object";
  private plucking = false;
  private readonly writes: boolean;

  constructor(
    private readonly db: PgSyncDb,
    private readonly sql: string,
    private readonly text: PgText,
  ) {
    this.writes = WRITES.test(text.text);
  }

  raw(toggle = true): this {
    this.rowMode = toggle ? "array" : "object";
    return this;
  }

  pluck(toggle = true): this {
    this.plucking = toggle;
    return this;
  }

  run(...args: unknown[]): RunResult {
    const { rowCount } = this.query(args);
    // lastInsertRowid has no PostgreSQL equivalent: a statement that needs the new id says RETURNING id.
    return { changes: rowCount, lastInsertRowid: 0 };
  }

  get(...args: unknown[]): unknown {
    return this.query(args).rows[0];
  }

  all(...args: unknown[]): unknown[] {
    return this.query(args).rows;
  }

  iterate(...args: unknown[]): IterableIterator<unknown> {
    return this.query(args).rows[Symbol.iterator]();
  }

  private query(args: unknown[]): { rows: unknown[]; rowCount: number } {
    const mode = this.plucking ? "array" : this.rowMode;
    const answer = this.db.request({ op: "query", text: this.text.text, values: bindValues(this.text.bind, args, this.sql), rowMode: mode, writes: this.writes });
    if (!this.plucking) return answer;
    return { rows: (answer.rows as unknown[][]).map((r) => r[0]), rowCount: answer.rowCount };
  }
}
