// Who is the active coordinator, on a real PostgreSQL (coordinator/ha/election.ts, issue 19): two
// coordinators' elections against one database, one active and one standby that knows where the
// active one is; the active's session killed, the server restarted, the active cut off in the
// middle of a renewal, and a clean stop — after each, exactly one active, and the one that lost
// the lead knows it.
import pg from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Election, LEADER_LOCK, type ElectionEvent } from "../../coordinator/ha/election.js";
import type { LeaseTimings } from "../../coordinator/ha/leadership.js";
import { migratePg } from "../../coordinator/store/pg/db.js";
import { postgresBinary, startPostgres, type PostgresServer } from "../harness/postgres.js";
import { freezableRelay, type FreezableRelay } from "../harness/tcp-relay.js";
import { needsTool } from "../support/system-tools.js";

const ready = needsTool(postgresBinary("initdb"), "postgresql");

/** Short enough for a test, long enough for a loaded two-core host. */
const TIMINGS: LeaseTimings = { leaseMs: 6_000, renewMs: 1_000, pollMs: 250 };

interface Member { id: string; election: Election; events: ElectionEvent[] }

/** Every member's events in the order they happened, across members. */
let timeline: { id: string; kind: ElectionEvent["kind"] }[] = [];

/** Replays the timeline: at no moment did two members believe they were active. */
function neverTwoActive(): void {
  const active = new Set<string>();
  for (const e of timeline) {
    if (e.kind === "active") active.add(e.id);
    if (e.kind === "lost" || e.kind === "stopped") active.delete(e.id);
    expect(active.size, JSON.stringify(timeline)).toBeLessThanOrEqual(1);
  }
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = probe();
    if (got !== undefined && got !== false) return got;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

describe.skipIf(!ready)("electing the active coordinator on PostgreSQL", () => {
  let server: PostgresServer;
  let admin: pg.Client | undefined;
  let members: Member[] = [];
  let dbs = 0;

  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);

  afterEach(async () => {
    await Promise.all(members.map((m) => m.election.stop()));
    members = [];
    timeline = [];
    await admin?.end().catch(() => {});
    admin = undefined;
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** A fresh migrated database, an admin connection to it, and elections for `ids` started at the same moment. */
  async function cluster(ids: string[]): Promise<Member[]> {
    const url = await server.createDatabase(`election_${++dbs}`);
    admin = new pg.Client({ connectionString: url });
    admin.on("error", () => {}); // the restart test ends this session too
    await admin.connect();
    await migratePg(admin);
    members = ids.map((id) => {
      const events: ElectionEvent[] = [];
      const onEvent = (e: ElectionEvent) => {
        events.push(e);
        timeline.push({ id, kind: e.kind });
      };
      return { id, events, election: new Election({ connection: url, id, address: `${id}.example:7400`, timings: TIMINGS, onEvent }) };
    });
    await Promise.all(members.map((m) => m.election.start()));
    return members;
  }

  const actives = () => members.filter((m) => m.election.role === "active");
  const soleActive = () => (actives().length === 1 ? actives()[0] : undefined);

  /** Sessions holding the leadership lock, as the server sees them. */
  async function lockHolders(): Promise<number[]> {
    const { rows } = await (admin as pg.Client).query<{ pid: number }>(
      "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      [LEADER_LOCK],
    );
    return rows.map((r) => r.pid);
  }

  async function leaseRow(): Promise<{ holder: string; address: string } | undefined> {
    return (await (admin as pg.Client).query<{ holder: string; address: string }>("SELECT holder, address FROM coordinator_lease WHERE name = 'active'")).rows[0];
  }

  /** Exactly one active, holding the lock on the server and named in the lease; every other standby, pointing at it. */
  async function expectOneActive(): Promise<Member> {
    const leader = await waitFor("exactly one active coordinator", soleActive);
    const others = members.filter((m) => m !== leader);
    for (const m of others) {
      await waitFor(`${m.id} standby and pointing at ${leader.id}`, () => m.election.role === "standby" && m.election.active?.holder === leader.id);
      expect(m.election.active?.address).toBe(`${leader.id}.example:7400`);
      expect(m.election.notActive()).toContain(`try ${leader.id}.example:7400`);
    }
    expect(await lockHolders()).toEqual([leader.election.backendPid]);
    expect(await leaseRow()).toEqual({ holder: leader.id, address: `${leader.id}.example:7400` });
    return leader;
  }

  it("makes exactly one of two coordinators started at once active; the other is a standby that knows the active's address", async () => {
    await cluster(["a", "b"]);
    // start() resolves once each has decided: the decision is already one active and one standby.
    expect(actives()).toHaveLength(1);
    const leader = await expectOneActive();
    const standby = members.find((m) => m !== leader) as Member;
    expect(leader.events.map((e) => e.kind)).toEqual(["active"]);
    // One standby event, or two when it read the lease between the leader's lock and its lease write.
    expect(new Set(standby.events.map((e) => e.kind))).toEqual(new Set(["standby"]));
    expect(standby.events.length).toBeLessThanOrEqual(2);
    const seen = standby.events.at(-1);
    expect(seen?.kind === "standby" && seen.active?.holder).toBe(leader.id);
    // It keeps the lead while it renews: three leases later nothing has changed.
    await sleep(TIMINGS.renewMs * 3);
    expect(soleActive()).toBe(leader);
    expect(leader.events.map((e) => e.kind)).toEqual(["active"]);
  });

  it("hands the lead to the standby when the active's session is killed, and the old active knows at once it lost it", async () => {
    await cluster(["a", "b"]);
    const leader = await expectOneActive();
    const standby = members.find((m) => m !== leader) as Member;
    // What a SIGKILLed coordinator's connection does: the session ends, and its lock with it.
    const killedAt = performance.now();
    await (admin as pg.Client).query("SELECT pg_terminate_backend($1)", [leader.election.backendPid]);
    // A SIGKILLed coordinator is gone: once this one has reported the loss, it leaves (it would
    // otherwise rejoin, and might win the lock back, after a poll period).
    await waitFor("the old active to report losing the lead", () => leader.election.role !== "active", TIMINGS.leaseMs);
    await leader.election.stop();
    members = members.filter((m) => m !== leader);
    await waitFor("the standby to become active", () => standby.election.role === "active", TIMINGS.leaseMs * 3);
    const takeoverMs = performance.now() - killedAt;
    // Behaviour, not speed: within the lease (the bench measures the time).
    expect(takeoverMs).toBeLessThan(TIMINGS.leaseMs);
    const lost = leader.events.find((e) => e.kind === "lost");
    expect(lost, JSON.stringify(leader.events)).toBeDefined();
    expect(lost?.kind === "lost" && lost.reason).toMatch(/connection to PostgreSQL/);
    expect(await expectOneActive()).toBe(standby);
  });

  it("has exactly one active again after PostgreSQL restarts, and the active before the restart reported losing the lead", async () => {
    await cluster(["a", "b"]);
    const before = await expectOneActive();
    await admin?.end().catch(() => {});
    await server.restart(1_000);
    // Each reconnects on its own; the admin connection is new.
    admin = new pg.Client({ connectionString: server.url(`election_${dbs}`) });
    admin.on("error", () => {});
    await admin.connect();
    await expectOneActive();
    expect(before.events.map((e) => e.kind), JSON.stringify(before.events)).toContain("lost");
    // Whoever is active after the restart became so after the old one reported the loss.
    neverTwoActive();
  }, 60_000);

  it("steps the active down on its own clock when its renewal hangs, and the standby takes over once that session lets go", async () => {
    await cluster(["a", "b"]);
    const leader = await expectOneActive();
    const standby = members.find((m) => m !== leader) as Member;
    // The lease table locked by someone else: the next renewal waits, as one cut off would.
    await (admin as pg.Client).query("BEGIN");
    await (admin as pg.Client).query("LOCK TABLE coordinator_lease IN ACCESS EXCLUSIVE MODE");
    const lockedAt = performance.now();
    await waitFor("the active to step down", () => leader.election.role !== "active", TIMINGS.leaseMs * 2);
    expect(performance.now() - lockedAt).toBeLessThan(TIMINGS.leaseMs + TIMINGS.renewMs);
    const lost = leader.events.find((e) => e.kind === "lost");
    expect(lost?.kind === "lost" && lost.reason).toMatch(/no renewal of the lease/);
    // Stepping down dropped its session, so the server freed the lock: the standby takes it
    // while the table is still locked, and writes the lease once it is not.
    await waitFor("the old active's session to end", () => leader.election.backendPid === undefined);
    await sleep(TIMINGS.pollMs * 4);
    await (admin as pg.Client).query("COMMIT");
    expect(await expectOneActive()).toBe(standby);
    neverTwoActive();
  }, 60_000);

  it("lets the standby take over from an active cut off from PostgreSQL with its session open, only after the old one stepped down", async () => {
    const url = await server.createDatabase(`election_${++dbs}`);
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await migratePg(admin);
    const relay: FreezableRelay = await freezableRelay(server.port);
    try {
      const join = async (id: string, connection: string) => {
        const events: ElectionEvent[] = [];
        const onEvent = (e: ElectionEvent) => {
          events.push(e);
          timeline.push({ id, kind: e.kind });
        };
        const m: Member = { id, events, election: new Election({ connection, id, address: `${id}.example:7400`, timings: TIMINGS, onEvent }) };
        members.push(m);
        await m.election.start();
        return m;
      };
      // The first one joins alone through the relay, so it is the active one.
      const cut = await join("a", url.replace(`:${server.port}/`, `:${relay.port}/`));
      expect(cut.election.role).toBe("active");
      const standby = await join("b", url);
      await expectOneActive();
      relay.freeze();
      const frozenAt = performance.now();
      // Nothing reaches the server, not even the end of the session: only the lease ends it.
      await waitFor("the standby to take over", () => standby.election.role === "active", TIMINGS.leaseMs * 3);
      expect(performance.now() - frozenAt).toBeLessThan(TIMINGS.leaseMs * 2);
      const lost = cut.events.find((e) => e.kind === "lost");
      expect(lost?.kind === "lost" && lost.reason).toMatch(/no renewal of the lease/);
      neverTwoActive();
      expect(await lockHolders()).toEqual([standby.election.backendPid]);
    } finally {
      await relay.close();
    }
  }, 60_000);

  it("hands over promptly when the active stops", async () => {
    await cluster(["a", "b", "c"]);
    const leader = await expectOneActive();
    const stoppedAt = performance.now();
    await leader.election.stop();
    members = members.filter((m) => m !== leader);
    const next = await waitFor("another coordinator to become active", soleActive, TIMINGS.leaseMs);
    expect(performance.now() - stoppedAt).toBeLessThan(TIMINGS.leaseMs);
    expect(leader.election.role).toBe("stopped");
    expect(leader.events.map((e) => e.kind)).toEqual(["active", "stopped"]);
    expect(await expectOneActive()).toBe(next);
    neverTwoActive();
  });

  it("stays unavailable, never active, on a database without the lease table, and says why", async () => {
    const url = await server.createDatabase(`election_${++dbs}`);
    const events: ElectionEvent[] = [];
    const election = new Election({ connection: url, id: "a", address: "a.example:7400", timings: TIMINGS, onEvent: (e) => events.push(e) });
    members = [{ id: "a", election, events }];
    await election.start();
    await sleep(TIMINGS.pollMs * 3);
    expect(election.role).not.toBe("active");
    expect(events.map((e) => e.kind)).toEqual(["unavailable"]);
    expect(events[0]?.kind === "unavailable" && events[0].reason).toMatch(/coordinator_lease/);
  });
});
