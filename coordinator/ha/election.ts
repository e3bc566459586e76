// Which of several coordinators sharing one PostgreSQL database is the active one (issue 19); the
// others are standbys. `coord serve --store postgres://…` runs it (server/serve.ts); docs/postgresql.md.
//
// Leadership is a SESSION advisory lock (LEADER_LOCK) taken with pg_try_advisory_lock on a
// connection of the election's own. PostgreSQL releases it when that session ends for any reason —
// the coordinator SIGKILLed (its socket closes), its backend terminated, the server restarted — so
// a dead coordinator cannot keep it. The holder also writes the lease row (coordinator_lease,
// migration 18): its id, the address agents and the CLI should use, when it took over, and an
// expiry it renews every renewMs; standbys read it to say "not active, try X".
//
// The active one never goes on acting without the lock:
// - the connection breaking (an 'end' or 'error' event, a failed renewal) is leadership lost at
//   once, since the session and its lock may be gone already;
// - each renewal checks in the same statement that this session still holds the lock;
// - a renewal that has not come back within the lease steps it down on a timer of its own, and the
//   server ends a session idle for leaseMs (idle_session_timeout), so a coordinator cut off from
//   the database loses the lock on the server side too, shortly after it stopped acting.
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { FleetgateError } from "../../shared/errors.js";
import { activeFrom, activeStep, leaseTimings, notActiveMessage, stepDownAfterMs, type ActiveCoordinator, type LeaseRow, type LeaseTimings } from "./leadership.js";

/**
 * The key of the leadership lock: fleetgate's own constant, beside migratePg's 7_400_019_001
 * (store/pg/db.ts). Advisory locks belong to one database, so the coordinators sharing a store
 * database are the ones competing.
 */
export const LEADER_LOCK = 7_400_019_002;

export type ElectionEvent =
  /** This coordinator holds the lock and has written the lease. */
  | { kind: "active"; lease: LeaseRow }
  /** It no longer does (or may not): stop acting as the active coordinator now. */
  | { kind: "lost"; reason: string }
  /** A standby: on the first round and whenever the active one, its address or its lease's expiry changes. */
  | { kind: "standby"; active: ActiveCoordinator | undefined }
  /** It cannot take part (no connection, no lease table …); it keeps retrying every pollMs. Once per distinct reason. */
  | { kind: "unavailable"; reason: string }
  /** stop() was called: it has left the election (an active one, before it lets go of the lock). */
  | { kind: "stopped" };

export interface ElectionOptions {
  /** The store database, as `pg` takes it. */
  connection: string | pg.ClientConfig;
  /** This coordinator's id, unique among those sharing the database. */
  id: string;
  /** The address this coordinator serves agents and the CLI on, as they should dial it (host:port). */
  address: string;
  timings?: Partial<LeaseTimings>;
  /** Called for each event, in order. Only an "active" handler may throw: the lead is then given up at once, as after a failed renewal. */
  onEvent?: (event: ElectionEvent) => void;
}

export type Role = "idle" | "standby" | "active" | "stopped";

const DB_NOW = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";
/** The lease row in the keys of LeaseRow; BIGINTs come back from pg as strings. */
const LEASE_COLUMNS = "holder, address, acquired_at::text, renewed_at::text, expires_at::text";
/** This session holds LEADER_LOCK: pg_locks keeps a bigint key as its high and low 32 bits, objsubid 1. */
const HOLDS_LOCK = `EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
  AND classid = ($3::bigint >> 32)::oid AND objid = ($3::bigint & 4294967295)::oid AND objsubid = 1)`;

interface RawLease { holder: string; address: string; acquired_at: string; renewed_at: string; expires_at: string }
const leaseOf = (r: RawLease): LeaseRow => ({ holder: r.holder, address: r.address, acquiredAt: Number(r.acquired_at), renewedAt: Number(r.renewed_at), expiresAt: Number(r.expires_at) });

export class Election {
  readonly timings: LeaseTimings;
  private roleNow: Role = "idle";
  private client: pg.Client | undefined;
  private pid: number | undefined;
  private lease: LeaseRow | undefined;
  private seen: { active: ActiveCoordinator | undefined; dbNow: number } = { active: undefined, dbNow: 0 };
  private lastRenewalSentAt = 0;
  private notBefore = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private lastTrouble = "";
  private lastStandby = "";
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: ElectionOptions) {
    this.timings = leaseTimings(options.timings);
    if (!options.id) throw new FleetgateError("bad_input", "a coordinator taking part in the election needs an id");
    if (!options.address) throw new FleetgateError("bad_input", `coordinator ${options.id} needs an address to advertise to agents and the CLI`);
  }

  get role(): Role {
    return this.roleNow;
  }

  /** The active coordinator as last seen: this one's lease when active, the lease row as read when standby. */
  get active(): ActiveCoordinator | undefined {
    if (this.roleNow === "active" && this.lease) return { ...this.lease, expired: false };
    return this.seen.active;
  }

  /** The backend pid of the election's session, while connected (for operators' pg_stat_activity, and tests). */
  get backendPid(): number | undefined {
    return this.pid;
  }

  /** What this coordinator answers, while standby, to a call meant for the active one. */
  notActive(): string {
    return notActiveMessage(this.options.id, this.seen.active, this.seen.dbNow);
  }

  /** Starts taking part; resolves once the first round has decided (active, standby or unavailable). */
  start(): Promise<void> {
    if (this.loop) throw new FleetgateError("conflict", `the election of coordinator ${this.options.id} was started already`);
    let firstRound!: () => void;
    const decided = new Promise<void>((resolve) => (firstRound = resolve));
    this.loop = this.run(firstRound);
    return decided;
  }

  /** Leaves the election: an active one marks its lease expired and releases the lock, so a standby takes over on its next poll. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    this.clearWatchdog();
    if (this.roleNow === "stopped") return;
    const client = this.client;
    this.client = undefined;
    const wasActive = this.roleNow === "active";
    // Before the lock goes: from here on a standby may take it.
    this.roleNow = "stopped";
    this.lease = undefined;
    this.emit({ kind: "stopped" });
    if (client && wasActive) {
      await client.query(`UPDATE coordinator_lease SET expires_at = ${DB_NOW} WHERE name = 'active' AND holder = $1`, [this.options.id]).catch(() => {});
      await client.query("SELECT pg_advisory_unlock($1)", [LEADER_LOCK]).catch(() => {});
    }
    // Ending the session releases the lock whatever happened above.
    await client?.end().catch(() => {});
  }

  private emit(event: ElectionEvent): void {
    this.options.onEvent?.(event);
  }

  private async run(firstRound: () => void): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      let waitMs = this.timings.pollMs;
      const hold = this.notBefore - performance.now();
      if (hold > 0) {
        await sleep(hold, undefined, { signal }).catch(() => {});
        continue;
      }
      try {
        const client = this.client ?? (await this.connect());
        if (signal.aborted) break;
        if (this.roleNow === "active") {
          const step = activeStep(this.lastRenewalSentAt, performance.now(), this.timings);
          if (step.kind === "renew") await this.renew(client);
          else if (step.kind === "step_down") this.lose(`no renewal of the lease for ${stepDownAfterMs(this.timings) + step.overdueMs} ms`);
        } else {
          await this.tryToLead(client);
        }
        if (this.roleNow === "active") {
          const next = activeStep(this.lastRenewalSentAt, performance.now(), this.timings);
          waitMs = next.kind === "wait" ? next.ms : 1;
        }
        this.lastTrouble = "";
      } catch (err) {
        this.trouble(err);
      }
      firstRound();
      await sleep(waitMs, undefined, { signal }).catch(() => {});
    }
    firstRound();
  }

  private async connect(): Promise<pg.Client> {
    const { leaseMs } = this.timings;
    const config = typeof this.options.connection === "string" ? { connectionString: this.options.connection } : this.options.connection;
    // Bounded: a server that does not answer must not hold the loop (or stop()) longer than a lease.
    const client = new pg.Client({ ...config, connectionTimeoutMillis: leaseMs, query_timeout: leaseMs, application_name: `fleetgate coordinator ${this.options.id} (election)` });
    client.on("error", (err) => this.broken(client, `lost the connection to PostgreSQL: ${err.message}`));
    client.on("end", () => this.broken(client, "lost the connection to PostgreSQL: the session ended"));
    try {
      await client.connect();
      const { rows } = await client.query<{ pid: number; version: number }>("SELECT pg_backend_pid() AS pid, current_setting('server_version_num')::int AS version");
      // PostgreSQL 14 and later end a session idle this long, and with it the lock of a holder cut off from the server.
      // client_connection_check_interval: a session this side let go of while its query waits (on a
      // lock, say) ends within a second rather than when the query is done, and its lock with it.
      if ((rows[0]?.version ?? 0) >= 140_000) {
        await client.query("SELECT set_config('idle_session_timeout', $1, false), set_config('client_connection_check_interval', '1000', false)", [String(leaseMs)]);
      }
      this.pid = rows[0]?.pid;
    } catch (err) {
      client.removeAllListeners("end");
      await client.end().catch(() => {});
      throw err;
    }
    this.client = client;
    return client;
  }

  /** The session is gone or cannot be trusted: drop it; an active coordinator has lost the lead. */
  private broken(client: pg.Client, reason: string): void {
    if (client !== this.client) return;
    this.client = undefined;
    this.pid = undefined;
    client.removeAllListeners("end");
    void client.end().catch(() => {});
    if (this.roleNow === "active") this.lose(reason);
  }

  private lose(reason: string): void {
    if (this.roleNow !== "active") return;
    this.roleNow = "standby";
    this.lease = undefined;
    this.clearWatchdog();
    // A whole lease before trying again: a standby gets the lead even when its polls run late on
    // a busy host (one poll period was not enough under CI load), rather than the lead going
    // straight back to a coordinator whose session just failed. Alone, it is active again after it.
    this.notBefore = performance.now() + this.timings.leaseMs;
    this.emit({ kind: "lost", reason });
    // Whatever state the session is in, it must not keep the lock: a new one is opened next round.
    if (this.client) this.broken(this.client, reason);
  }

  private trouble(err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    // An active one's failure is reported as the lead lost; the next round's, if any, as trouble.
    if (this.roleNow === "active") return this.lose(`the lease could not be renewed: ${reason}`);
    if (this.client) this.broken(this.client, reason);
    if (reason !== this.lastTrouble && !this.stopping.signal.aborted) {
      this.lastTrouble = reason;
      this.lastStandby = "";
      this.emit({ kind: "unavailable", reason });
    }
  }

  private async tryToLead(client: pg.Client): Promise<void> {
    const sentAt = performance.now();
    const got = (await client.query<{ got: boolean }>("SELECT pg_try_advisory_lock($1) AS got", [LEADER_LOCK])).rows[0]?.got === true;
    if (!got) {
      const { rows } = await client.query<RawLease & { db_now: string }>(
        `SELECT ${DB_NOW}::text AS db_now, ${LEASE_COLUMNS} FROM (SELECT 1) AS one LEFT JOIN coordinator_lease ON name = 'active'`,
      );
      const row = rows[0];
      const dbNow = Number(row?.db_now);
      this.seen = { active: activeFrom(row?.holder === null || row?.holder === undefined ? undefined : leaseOf(row), dbNow), dbNow };
      this.roleNow = "standby";
      const a = this.seen.active;
      const key = a ? `${a.holder} ${a.address} ${a.acquiredAt} ${a.expired}` : "none";
      if (key !== this.lastStandby) {
        this.lastStandby = key;
        this.emit({ kind: "standby", active: a });
      }
      return;
    }
    // The lock is ours: say so in the lease before acting on it. If this fails the session is
    // dropped (trouble → broken), which releases the lock.
    const { rows } = await client.query<RawLease>(
      `INSERT INTO coordinator_lease (name, holder, address, acquired_at, renewed_at, expires_at)
       SELECT 'active', $1, $2, t.n, t.n, t.n + $3 FROM (SELECT ${DB_NOW} AS n) AS t
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, address = EXCLUDED.address, acquired_at = EXCLUDED.acquired_at,
         renewed_at = EXCLUDED.renewed_at, expires_at = EXCLUDED.expires_at
       RETURNING ${LEASE_COLUMNS}`,
      [this.options.id, this.options.address, this.timings.leaseMs],
    );
    this.lease = leaseOf(rows[0] as RawLease);
    this.roleNow = "active";
    this.lastStandby = "";
    this.seen = { active: undefined, dbNow: this.lease.acquiredAt };
    this.renewed(sentAt);
    this.emit({ kind: "active", lease: this.lease });
  }

  private async renew(client: pg.Client): Promise<void> {
    const sentAt = performance.now();
    const { rows } = await client.query<RawLease>(
      `UPDATE coordinator_lease SET renewed_at = t.n, expires_at = t.n + $2 FROM (SELECT ${DB_NOW} AS n) AS t
       WHERE name = 'active' AND holder = $1 AND ${HOLDS_LOCK}
       RETURNING ${LEASE_COLUMNS}`,
      [this.options.id, this.timings.leaseMs, LEADER_LOCK],
    );
    if (this.roleNow !== "active") return; // lost while the renewal was on its way
    const row = rows[0];
    if (!row) return this.lose("this session no longer holds the leadership lock, or the lease row names another coordinator");
    this.lease = leaseOf(row);
    this.renewed(sentAt);
  }

  /** A renewal sent at `sentAt` succeeded: the active role lasts until stepDownAfterMs from then unless renewed again. */
  private renewed(sentAt: number): void {
    this.lastRenewalSentAt = sentAt;
    this.clearWatchdog();
    // Its own timer, not the loop: the loop may be waiting on a renewal that never returns.
    const ms = Math.max(0, sentAt + stepDownAfterMs(this.timings) - performance.now());
    this.watchdog = setTimeout(() => this.lose(`no renewal of the lease for ${stepDownAfterMs(this.timings)} ms`), ms);
    this.watchdog.unref();
  }

  private clearWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }
}
