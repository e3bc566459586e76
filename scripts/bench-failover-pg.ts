// `npm run bench -- failover` (issue 19): how long the coordinator election (coordinator/ha/
// election.ts) takes to make a standby active on a real PostgreSQL over loopback, with the default
// lease timings, when the active one's session ends (what a SIGKILLed coordinator's connection
// does), when it is cut off from the database without its session ending, and when it stops.
// Two elections in this process, as two coordinators would run them; no coordinator around them.
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { Election } from "../coordinator/ha/election.js";
import { DEFAULT_TIMINGS, stepDownAfterMs } from "../coordinator/ha/leadership.js";
import { migratePg } from "../coordinator/store/pg/db.js";
import type { Cleanup } from "./bench-cleanup.js";
import type { Progress } from "./bench-components.js";
import { formatNumber, type BenchResult } from "./bench-report.js";
import { since, summarize } from "./bench-stats.js";

/** How many times each way of losing the lead is timed: alone, and in the whole bench (its 10 minutes). */
export const ELECTION_COUNTS = { alone: { kills: 15, stops: 10, cuts: 3 }, whole: { kills: 8, stops: 5, cuts: 2 } } as const;

const roles = new Map<Election, string[]>();

async function waitFor(what: string, probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) {
      const seen = [...roles.values()].map((events) => events.join(" → ")).join("; ");
      throw new Error(`failover bench: ${what} did not happen within ${timeoutMs} ms (events: ${seen})`);
    }
    await sleep(5);
  }
}

export async function benchFailover(cleanup: Cleanup, say: Progress, counts: { kills: number; stops: number; cuts: number } = ELECTION_COUNTS.alone): Promise<BenchResult[]> {
  const { postgresBinary, startPostgres } = await import("../test/harness/postgres.js");
  const { freezableRelay } = await import("../test/harness/tcp-relay.js");
  if (!postgresBinary("initdb").includes("/")) {
    say("failover: no PostgreSQL here (apt-get install postgresql), so no figures");
    return [];
  }
  say("failover: starting PostgreSQL (test/harness/postgres.ts)");
  const server = await startPostgres();
  const stopServer = cleanup.add("stop PostgreSQL", () => server.stop());
  const elections = new Set<Election>();
  const stopElections = cleanup.add("stop the elections", async () => {
    await Promise.all([...elections].map((e) => e.stop()));
  });
  const admin = new pg.Client({ connectionString: await server.createDatabase("failover") });
  const endAdmin = cleanup.add("close the admin connection", () => admin.end());
  let count = 0;
  const join = async (connection: string) => {
    const id = `coord-${++count}`;
    // What each one went through, for the message when something does not happen in time.
    const events: string[] = [`${id}:`];
    const e = new Election({ connection, id, address: `127.0.0.1:${7400 + count}`, onEvent: (ev) => events.push(`${ev.kind}${"reason" in ev ? ` (${ev.reason})` : ""}`) });
    roles.set(e, events);
    elections.add(e);
    await e.start();
    return e;
  };
  const leave = async (e: Election) => {
    elections.delete(e);
    roles.delete(e);
    await e.stop();
  };
  try {
    await admin.connect();
    await migratePg(admin);
    const version = ((await admin.query("SHOW server_version")).rows[0] as { server_version: string }).server_version;
    const url = server.url("failover");
    const t = DEFAULT_TIMINGS;
    const bound = t.leaseMs * 3;
    const activeOf = () => [...elections].filter((e) => e.role === "active");

    // The active's session ended by the server: the lock goes with it, the standby takes it on its next poll.
    const takeover: number[] = [];
    const noticed: number[] = [];
    await join(url);
    await join(url);
    for (let i = 0; i < counts.kills; i++) {
      await waitFor("one active and one standby", () => activeOf().length === 1 && [...elections].every((e) => e.role !== "idle" && e.backendPid !== undefined), bound);
      const [old] = activeOf() as [Election];
      const standby = [...elections].find((e) => e !== old) as Election;
      // Half a poll at random in between, so the kills do not all land at the same point of the standby's cycle.
      await sleep(Math.random() * t.pollMs);
      const start = performance.now();
      await admin.query("SELECT pg_terminate_backend($1)", [old.backendPid]);
      let oldNoticed: number | undefined;
      let standbyActive: number | undefined;
      let left: Promise<void> | undefined;
      await waitFor("the old active noticing and the standby taking over", () => {
        if (oldNoticed === undefined && old.role !== "active") {
          oldNoticed = since(start);
          // A SIGKILLed coordinator is gone: this one leaves rather than rejoin (and maybe win the lock back).
          left = leave(old);
        }
        if (standbyActive === undefined && standby.role === "active") standbyActive = since(start);
        return oldNoticed !== undefined && standbyActive !== undefined;
      }, bound);
      takeover.push(standbyActive as number);
      noticed.push(oldNoticed as number);
      await left;
      await join(url);
    }
    say(`failover: session ended → standby active, median ${formatNumber(summarize(takeover).median)} ms over ${counts.kills}`);

    // A clean stop: the lock released at once, the standby takes it on its next poll.
    const handover: number[] = [];
    for (let i = 0; i < counts.stops; i++) {
      await waitFor("one active and one standby", () => activeOf().length === 1 && [...elections].every((e) => e.role === "standby" || e.role === "active"), bound);
      const [old] = activeOf() as [Election];
      const standby = [...elections].find((e) => e !== old) as Election;
      await sleep(Math.random() * t.pollMs);
      const start = performance.now();
      await leave(old);
      await waitFor("the standby taking over", () => standby.role === "active", bound);
      handover.push(since(start));
      await join(url);
    }
    say(`failover: stop() → standby active, median ${formatNumber(summarize(handover).median)} ms over ${counts.stops}`);

    // Cut off: the active's traffic frozen with its session open; it steps down on its own clock,
    // the server ends the idle session after the lease, and the standby takes the lock.
    const cutStepDown: number[] = [];
    const cutTakeover: number[] = [];
    for (let i = 0; i < counts.cuts; i++) {
      await Promise.all([...elections].map((e) => leave(e)));
      const relay = await freezableRelay(server.port);
      const closeRelay = cleanup.add("close the relay", () => relay.close());
      const cut = await join(server.url("failover").replace(`:${server.port}/`, `:${relay.port}/`));
      const standby = await join(url);
      await waitFor("the relayed one active", () => cut.role === "active" && standby.role === "standby", bound);
      // The freeze lands anywhere in a renewal period, as a partition would.
      await sleep(Math.random() * t.renewMs);
      const start = performance.now();
      relay.freeze();
      let steppedDown: number | undefined;
      let tookOver: number | undefined;
      await waitFor("the cut-off active stepping down and the standby taking over", () => {
        if (steppedDown === undefined && cut.role !== "active") steppedDown = since(start);
        if (tookOver === undefined && standby.role === "active") tookOver = since(start);
        return steppedDown !== undefined && tookOver !== undefined;
      }, bound);
      if ((tookOver as number) < (steppedDown as number)) throw new Error(`failover bench: the standby took over ${formatNumber((steppedDown as number) - (tookOver as number))} ms before the cut-off active stepped down`);
      cutStepDown.push(steppedDown as number);
      cutTakeover.push(tookOver as number);
      await closeRelay();
    }
    say(`failover: cut off → standby active, median ${formatNumber(summarize(cutTakeover).median)} ms over ${counts.cuts}`);
    await stopElections();
    return [{
      title: "Failover: a standby coordinator taking the lead on PostgreSQL",
      method:
        `Two elections (coordinator/ha/election.ts) in one process against one database of PostgreSQL ${version} on loopback, started by test/harness/postgres.ts, with the default timings ` +
        `(lease ${t.leaseMs} ms, renewal every ${t.renewMs} ms, standby polling every ${t.pollMs} ms): no coordinator around them, so this is the election's part of a failover only. ` +
        `Session ended: the active's backend ended with pg_terminate_backend, as a SIGKILLed coordinator's closed connection ends it; timed from the call to the old active reporting the lead lost, and to the standby reporting itself active (lock taken and lease written), ${counts.kills} times, each after a random wait under one poll period; the old one leaves once it has reported the loss and a new one joins as the standby. ` +
        `Stop: the active's stop() (lease marked expired, lock released), ${counts.stops} times. ` +
        `Cut off: the active reaches PostgreSQL through a loopback relay that stops forwarding both ways with the session left open (a network partition), ${counts.cuts} times, each after a random wait under one renewal period; ` +
        `timed from the freeze to the cut-off one stepping down on its own clock, and to the standby active (the run fails if that comes first).`,
      rows: [
        { measure: "active's session ended → standby active", unit: "ms", better: "lower", summary: summarize(takeover) },
        { measure: "active's session ended → the old active reports the lead lost", unit: "ms", better: "lower", summary: summarize(noticed) },
        { measure: "active's stop() → standby active", unit: "ms", better: "lower", summary: summarize(handover) },
        { measure: "active cut off from PostgreSQL → it steps down", unit: "ms", better: "lower", summary: summarize(cutStepDown) },
        { measure: "active cut off from PostgreSQL → standby active", unit: "ms", better: "lower", summary: summarize(cutTakeover) },
      ],
      bound:
        `After a session ends or a stop, the standby's poll period (${t.pollMs} ms) bounds the takeover: it takes the lock on its first poll after the server released it. ` +
        `Cut off, the old active steps down ${stepDownAfterMs(t)} ms after its last renewal was sent, and the server ends its idle session (idle_session_timeout) ${t.leaseMs} ms after that renewal, freeing the lock for the standby's next poll. ` +
        `The freeze comes up to one renewal period after that renewal, so from the freeze the step-down takes ${formatNumber(stepDownAfterMs(t) - t.renewMs)} to ${formatNumber(stepDownAfterMs(t))} ms ` +
        `and the takeover ${formatNumber(t.leaseMs - t.renewMs)} to ${formatNumber(t.leaseMs + t.pollMs)} ms.`,
    }];
  } finally {
    await stopElections();
    await endAdmin();
    await stopServer();
  }
}
