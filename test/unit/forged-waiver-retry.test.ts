// A result claiming a waiver the run does not have is stored as an error and flags the run. The
// flag must survive a failed batch: CommitQueue commits the batch's events again one by one, with
// the same event objects, so judging an event must not change it.
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { recordAgentEvent } from "../../coordinator/store/agent-events.js";
import type { Db } from "../../coordinator/store/db.js";
import { getRun, insertRun } from "../../coordinator/store/runs.js";
import { AgentEventSchema } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { Status } from "../../shared/model/status.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const MACHINE = "0123456789abcdef0123456789abcdef";
let db: Db;

describe.each(STORE_ENGINES)("a forged waiver (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);

  beforeEach(async () => {
    db = await store.open();
    insertRun(db, { id: "r1", planName: "p", planPath: "p.yaml", planYaml: "plan: p", suites: {}, stages: ["fleet"], flags: [], createdAt: 1, mode: "full", planRevision: "x", options: {}, nodes: [] },
      [{ id: "r1/fleet/n1/1", stageId: "fleet", nodeName: "n1", iteration: 1, suitePath: "s.yaml", allowDestructive: false }]);
  });

  afterEach(() => {
    db.close();
  });

  it("flags the run for a forged waiver when the event is committed again after its batch failed", () => {
    const event = create(AgentEventSchema, {
      seq: 1n,
      origin: { machineId: MACHINE, bootId: "b", hostname: "n1" },
      body: { case: "check", value: { taskId: "r1/fleet/n1/1", result: { checkId: "c", kind: "command", status: Status.WAIVED, unwaivedStatus: Status.FAILED, waiver: { checkId: "c", source: "w.yaml:1:1" } } } },
    });
    // The batch holding it fails after the event was judged: everything rolls back.
    expect(() =>
      db.transaction(() => {
        recordAgentEvent(db, "n1", MACHINE, event, 5, () => []);
        throw new Error("a later event of the batch broke the transaction");
      })(),
    ).toThrow("broke the transaction");
    expect(getRun(db, "r1")?.flags).toEqual([]);
    expect(event.body.case === "check" && event.body.value.result?.status).toBe(Status.WAIVED);

    const outcome = recordAgentEvent(db, "n1", MACHINE, event, 6, () => []);
    expect(outcome.kind === "check" && outcome.result.status).toBe(Status.ERROR);
    expect(getRun(db, "r1")?.flags).toEqual([expect.stringContaining("reported check c waived (failed)")]);
    expect(db.prepare("SELECT status FROM check_results").all()).toEqual([{ status: "error" }]);
  });
});
