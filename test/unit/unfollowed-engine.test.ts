// A coordinator that does not follow runs — a standby's fresh parts before the election starts
// them, or parts whose lead was lost — knows nothing of runs in progress: to it every run looks
// finished. A call that passed the standby gate just before the lead was lost reaches such parts;
// it must be refused as unreachable (the CLI tries again), never answered as if the run had ended.
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentSessions } from "../../coordinator/fleet/sessions.js";
import { RunEngine } from "../../coordinator/sequencer/engine.js";
import { controlServiceHandlers } from "../../coordinator/server/control-service.js";
import type { Db } from "../../coordinator/store/db.js";
import type { WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { insertOneTaskRun } from "../support/agent-server.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const ADMIN = "fga_admin-token-for-this-test";
const silent = pino({ level: "silent" });

/** What a WatchRun handler did with its call: messages written, whether it ended, the error it emitted. */
function watchCall(runId: string) {
  const written: WatchRunResponse[] = [];
  const seen: { ended: boolean; error?: grpc.ServiceError } = { ended: false };
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${ADMIN}`);
  const call = {
    request: { runId },
    metadata,
    getPeer: () => "ipv4:127.0.0.1:40000",
    write(u: WatchRunResponse, done: (err?: Error | null) => void) {
      written.push(u);
      setImmediate(() => done());
      return true;
    },
    end: () => (seen.ended = true),
    once: () => call,
    off: () => call,
    emit(event: string, err: grpc.ServiceError) {
      if (event === "error") seen.error = err;
      return true;
    },
  };
  return { call, written, seen };
}

describe.each(STORE_ENGINES)("a coordinator whose engine does not follow runs (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);
  let db: Db;
  let engine: RunEngine;

  beforeEach(async () => {
    db = await store.open();
    // A run in progress, as a coordinator that lost the lead left it in the store.
    insertOneTaskRun(db, "n1");
    engine = new RunEngine(db, new AgentSessions(), silent, {});
  });

  afterEach(() => engine.stop());

  const handlers = () =>
    controlServiceHandlers({ db, sessions: new AgentSessions(), engine, ownHost: { machineId: "", bootId: "" }, transport: "tls", log: silent, adminToken: ADMIN });

  async function watch() {
    const w = watchCall("r1");
    (handlers().watchRun as unknown as (call: unknown) => void)(w.call);
    // Give a write the turns it takes to complete, as grpc-js would.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    return w;
  }

  it("refuses a watch as unreachable, sending nothing, when its engine was never started (a standby's fresh parts)", async () => {
    const { written, seen } = await watch();
    expect(seen.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(seen.error?.details).toMatch(/not following runs now .*; try again$/);
    expect(written).toEqual([]);
  });

  it("refuses a watch as unreachable when its engine stopped (the lead lost)", async () => {
    engine.start();
    engine.stop();
    const { written, seen } = await watch();
    expect(seen.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(written).toEqual([]);
  });

  it("replays a run in progress without ending the watch once the engine follows runs", async () => {
    engine.start();
    const { written, seen } = await watch();
    expect(seen.error).toBeUndefined();
    expect(written.map((u) => u.event.case)).toEqual(["task"]);
    expect(seen.ended).toBe(false);
  });

  it("refuses a cancel as unreachable, not as 'already finished', when its engine was never started", async () => {
    const err = await new Promise<Partial<grpc.StatusObject> | null>((resolve) =>
      (handlers().cancelRun as unknown as grpc.handleUnaryCall<{ runId: string; reason: string }, unknown>)(
        { request: { runId: "r1", reason: "" }, metadata: watchCall("r1").call.metadata, getPeer: () => "ipv4:127.0.0.1:40000" } as never,
        (e) => resolve(e),
      ),
    );
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(err?.details).not.toMatch(/already finished/);
  });
});
