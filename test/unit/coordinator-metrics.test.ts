import { create } from "@bufbuild/protobuf";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CoordinatorMetrics } from "../../coordinator/metrics/coordinator-metrics.js";
import { ReplayWatch } from "../../coordinator/metrics/replays.js";
import { migrationProblem, notReady, READY_PROBE_FILE, throttled } from "../../coordinator/server/readiness.js";
import type { IncomingEvent } from "../../coordinator/sequencer/engine.js";
import type { CommitOutcome } from "../../coordinator/store/agent-events.js";
import { openDb, type Db } from "../../coordinator/store/db.js";
import type { TaskRow } from "../../coordinator/store/tasks.js";
import { AgentEventSchema } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { CheckResultSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { parseListen, startMetricsServer } from "../../shared/metrics/http-server.js";
import { Status } from "../../shared/model/status.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

/** The value of one sample in a Prometheus text scrape, `labels` as written there ('status="passed"'). */
function sample(scrape: string, name: string, labels = ""): number | undefined {
  const want = labels ? `${name}{${labels}}` : name;
  const line = scrape.split("\n").find((l) => l.startsWith(`${want} `));
  return line === undefined ? undefined : Number(line.slice(want.length + 1));
}

function event(node: string, seq: bigint): IncomingEvent {
  return { node, machineId: "m", event: create(AgentEventSchema, { seq }) };
}

// The engine's outcomes carry the task; what is counted reads only the result.
const TASK = {} as TaskRow;
const check = (kind: string, status: Status, durationMs: bigint): CommitOutcome => ({ kind: "check", task: TASK, result: create(CheckResultSchema, { checkId: "c", kind, status, durationMs }) });

describe("the coordinator's metrics", () => {
  it("counts each committed result by status, its duration by kind, and dedup hits, from what the commit returned", async () => {
    const metrics = new CoordinatorMetrics(() => []);
    const outcomes: CommitOutcome[] = [check("command", Status.PASSED, 1500n), check("http", Status.FAILED, 20n), { kind: "duplicate" }];
    const commit = metrics.timedCommit(() => outcomes);
    expect(commit([event("a", 1n), event("a", 2n), event("a", 1n)])).toBe(outcomes);
    const text = (await metrics.scrape()).body;
    expect(sample(text, "fleetgate_check_results_committed_total", 'status="passed"')).toBe(1);
    expect(sample(text, "fleetgate_check_results_committed_total", 'status="failed"')).toBe(1);
    expect(sample(text, "fleetgate_agent_events_duplicate_total")).toBe(1);
    expect(sample(text, "fleetgate_check_duration_seconds_count", 'kind="command"')).toBe(1);
    expect(sample(text, "fleetgate_check_duration_seconds_sum", 'kind="command"')).toBe(1.5);
    expect(sample(text, "fleetgate_check_duration_seconds_bucket", 'le="1",kind="command"')).toBe(0);
    expect(sample(text, "fleetgate_check_duration_seconds_bucket", 'le="2.5",kind="command"')).toBe(1);
    expect(sample(text, "fleetgate_store_commit_duration_seconds_count", 'outcome="committed"')).toBe(1);
  });

  it("times a failed commit as failed and counts none of its events", async () => {
    const metrics = new CoordinatorMetrics(() => []);
    const commit = metrics.timedCommit(() => {
      throw Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
    });
    expect(() => commit([event("a", 1n)])).toThrow("disk is full");
    const text = (await metrics.scrape()).body;
    expect(sample(text, "fleetgate_store_commit_duration_seconds_count", 'outcome="failed"')).toBe(1);
    expect(sample(text, "fleetgate_store_commit_duration_seconds_count", 'outcome="committed"')).toBeUndefined();
    expect(text).not.toMatch(/^fleetgate_check_results_committed_total\{/m);
  });

  it("reads the nodes' statuses at each scrape, every status shown even at zero", async () => {
    let statuses: ("online" | "offline" | "lost")[] = ["online", "online", "lost"];
    const metrics = new CoordinatorMetrics(() => statuses);
    let text = (await metrics.scrape()).body;
    expect([sample(text, "fleetgate_nodes", 'status="online"'), sample(text, "fleetgate_nodes", 'status="offline"'), sample(text, "fleetgate_nodes", 'status="lost"')]).toEqual([2, 0, 1]);
    statuses = ["offline"];
    text = (await metrics.scrape()).body;
    expect([sample(text, "fleetgate_nodes", 'status="online"'), sample(text, "fleetgate_nodes", 'status="offline"'), sample(text, "fleetgate_nodes", 'status="lost"')]).toEqual([0, 1, 0]);
  });

  it("keeps each instance's counts in its own registry", async () => {
    const one = new CoordinatorMetrics(() => []);
    const two = new CoordinatorMetrics(() => []);
    one.rpcEnded("/fleetgate.v1.AgentService/Connect", "CANCELLED");
    expect(sample((await one.scrape()).body, "fleetgate_rpc_errors_total", 'method="/fleetgate.v1.AgentService/Connect",code="CANCELLED"')).toBe(1);
    expect((await two.scrape()).body).not.toMatch(/^fleetgate_rpc_errors_total\{/m);
  });
});

describe("replays", () => {
  it("counts nothing on a node's first stream, then what a new stream resends at or below the last one's highest seq", () => {
    const watch = new ReplayWatch();
    watch.connected("a");
    expect([1n, 2n, 3n].map((s) => watch.received("a", s))).toEqual([false, false, false]);
    watch.connected("a");
    expect([2n, 3n, 4n].map((s) => watch.received("a", s))).toEqual([true, true, false]);
    // Another node's numbers are its own.
    watch.connected("b");
    expect(watch.received("b", 1n)).toBe(false);
  });
});

describe("--metrics-listen", () => {
  it("takes HOST:PORT and bracketed IPv6, and refuses anything else naming the setting", () => {
    expect(parseListen("127.0.0.1:9464", "--metrics-listen")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseListen("[::1]:0", "--metrics-listen")).toEqual({ host: "::1", port: 0 });
    for (const bad of ["9464", ":9464", "127.0.0.1:", "127.0.0.1:70000", "::1:9464", "host:port"]) {
      expect(() => parseListen(bad, "metrics_listen"), bad).toThrow(`metrics_listen ${bad}: expected HOST:PORT`);
    }
  });

  it("answers /healthz 200, /readyz 503 with its one-line reason, and an unknown path 404", async () => {
    let why: string | undefined = "the store refuses writes: SQLITE_READONLY";
    const server = await startMetricsServer("127.0.0.1:0", "--metrics-listen", { metrics: async () => ({ contentType: "text/plain", body: "x 1\n" }), notReady: () => why }, () => {});
    try {
      const get = async (path: string) => {
        const res = await fetch(`http://${server.address}${path}`);
        return [res.status, await res.text()];
      };
      expect(await get("/healthz")).toEqual([200, "ok\n"]);
      expect(await get("/readyz")).toEqual([503, "not ready: the store refuses writes: SQLITE_READONLY\n"]);
      why = undefined;
      expect(await get("/readyz")).toEqual([200, "ready\n"]);
      expect(await get("/metrics")).toEqual([200, "x 1\n"]);
      expect((await get("/other"))[0]).toBe(404);
    } finally {
      await server.close();
    }
  });

  it("refuses an address it cannot listen on, naming the flag", async () => {
    const first = await startMetricsServer("127.0.0.1:0", "--metrics-listen", { metrics: async () => ({ contentType: "text/plain", body: "" }) }, () => {});
    try {
      await expect(startMetricsServer(first.address, "--metrics-listen", { metrics: async () => ({ contentType: "text/plain", body: "" }) }, () => {})).rejects.toThrow(
        `--metrics-listen ${first.address}: cannot listen: EADDRINUSE`,
      );
    } finally {
      await first.close();
    }
  });
});

describe.each(STORE_ENGINES)("readiness (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);
  let dir: string;
  let db: Db;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-ready-"));
    db = await store.open();
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("is ready with a writable state dir and a migrated store, and leaves no probe file behind", () => {
    expect(notReady(db, dir)).toBeUndefined();
    expect(existsSync(join(dir, READY_PROBE_FILE))).toBe(false);
  });

  it("is not ready when no file can be made in the state dir", () => {
    // A file where the dir should be: ENOTDIR for root too (a chmod would not stop root).
    const notADir = join(dir, "state");
    writeFileSync(notADir, "");
    expect(notReady(db, notADir)).toBe(`cannot write in the state dir ${notADir}: ENOTDIR`);
  });

  it("is not ready when the store is closed", () => {
    db.close();
    expect(notReady(db, dir)).toBe("the store is closed (coordinator stopping)");
  });

  // PostgreSQL's read-only store: a session that refuses writes, as on a hot standby (SQLite's is below).
  if (storeEngine === "postgres") {
    it("commits a real write: a session that refuses writes is not ready, with PostgreSQL's reason", () => {
      db.exec("SET default_transaction_read_only = on");
      expect(notReady(db, dir)).toMatch(/^the store refuses writes: .*cannot execute INSERT in a read-only transaction$/);
    });
  }
});

describe("readiness", () => {
  // SQLite only: a coord.db opened read-only, and SQLite's own reason.
  it("commits a real write: a store opened read-only is not ready, with SQLite's reason", () => {
    const dir = mkdtempSync(join(tmpdir(), "fleetgate-ready-"));
    openDb(join(dir, "coord.db")).close();
    const readonly = new Database(join(dir, "coord.db"), { readonly: true, fileMustExist: true });
    try {
      expect(notReady(readonly, dir)).toMatch(/^the store refuses writes: SQLITE_READONLY: attempt to write a readonly database$/);
    } finally {
      readonly.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("probes at most once a second, answering requests in between with the last answer", () => {
    let t = 0;
    let probes = 0;
    const answers = ["disk full", undefined];
    const probe = throttled(() => answers[probes++], 1000, () => t);
    expect([probe(), probe()]).toEqual(["disk full", "disk full"]);
    t = 999;
    expect(probe()).toBe("disk full");
    t = 1000;
    expect([probe(), probe()]).toEqual([undefined, undefined]);
    expect(probes).toBe(2);
  });

  it("names migrations not applied, and ones a newer coordinator applied", () => {
    expect(migrationProblem([1, 2, 3], [1, 2, 3])).toBeUndefined();
    expect(migrationProblem([1], [1, 2, 3])).toBe("store migrations not applied: 2, 3; restart coord serve to apply them");
    expect(migrationProblem([1, 2, 3, 4], [1, 2, 3])).toBe("the store has migrations this coordinator does not know (4): a newer fleetgate wrote it; run that version");
  });
});
