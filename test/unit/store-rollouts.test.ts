// Rollout rows, known-good facts and a run's shipped files in the store, on SQLite and PostgreSQL:
// the request kept as sent (bytes), the state written whole, newest first and unfinished-only
// lists, facts replaced per (node, fact), files read back byte for byte with their sha256.
import { create } from "@bufbuild/protobuf";
import { beforeEach, describe, expect, it } from "vitest";
import type { RolloutState } from "../../coordinator/rollouts/core.js";
import type { Db } from "../../coordinator/store/db.js";
import { getRollout, insertRollout, knownGoodFacts, listRollouts, recordKnownGoodFacts, saveRolloutState } from "../../coordinator/store/rollouts.js";
import { insertRunFiles, runFileHashes, runFiles } from "../../coordinator/store/run-files.js";
import { insertRun } from "../../coordinator/store/runs.js";
import { StartRolloutRequestSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { sha256Hex } from "../../shared/model/suite-files.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const T0 = 1_732_514_400_000;

const state = (status: RolloutState["status"], summary = ""): RolloutState => ({ status, nodes: [], quick: false, approved: [], stopping: "", aborted: "", events: [], summary });

describe.each(STORE_ENGINES)("rollouts, known-good facts and run files in the store (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);
  let db: Db;
  beforeEach(async () => {
    db = await store.open();
  });

  it("keeps a rollout's request as sent and its state as last written, and lists the newest first", () => {
    const request = create(StartRolloutRequestSchema, { planPath: "gate.yaml", planYaml: "plan: gate\n", changePath: "kernel.yaml", changeYaml: "change: kernel\n", nodeNames: ["n1", "n2"], batch: 2 });
    for (const [i, id] of ["ro1", "ro2", "ro3"].entries()) insertRollout(db, { id, changeName: "kernel", planName: "gate", createdAt: T0 + (i === 2 ? 0 : i), startedBy: "ann", request, state: state("running") });
    saveRolloutState(db, "ro2", state("completed", "2 of 2 nodes changed"), T0 + 60_000);

    const got = getRollout(db, "ro2");
    expect(got).toMatchObject({ id: "ro2", changeName: "kernel", planName: "gate", createdAt: T0 + 1, finishedAt: T0 + 60_000, startedBy: "ann", state: state("completed", "2 of 2 nodes changed") });
    expect(got?.request).toEqual(request);
    expect(getRollout(db, "ro1")?.finishedAt).toBeUndefined();
    expect(getRollout(db, "nope")).toBeUndefined();
    // Newest first; ro3 was created in the same millisecond as ro1, after it.
    expect(listRollouts(db, 10).map((r) => r.id)).toEqual(["ro2", "ro3", "ro1"]);
    expect(listRollouts(db, 10, { unfinished: true }).map((r) => r.id)).toEqual(["ro3", "ro1"]);
    expect(listRollouts(db, 1).map((r) => r.id)).toEqual(["ro2"]);
  });

  it("records a node's known-good facts, a later value replacing the earlier one fact by fact", () => {
    recordKnownGoodFacts(db, "n1", { kernel: "6.1.0-18", podman: "4.3.1" }, { rolloutId: "ro1", change: "kernel", at: T0 });
    recordKnownGoodFacts(db, "n1", { kernel: "6.1.0-21" }, { rolloutId: "ro2", change: "kernel", at: T0 + 1 });
    recordKnownGoodFacts(db, "n2", { kernel: "6.1.0-18" }, { rolloutId: "ro1", change: "kernel", at: T0 });
    expect(knownGoodFacts(db, "n1")).toEqual({ kernel: "6.1.0-21", podman: "4.3.1" });
    expect(db.prepare("SELECT rollout_id, change_name, recorded_at FROM known_good_facts WHERE node = 'n1' AND fact = 'kernel'").get()).toEqual({ rollout_id: "ro2", change_name: "kernel", recorded_at: T0 + 1 });
    expect(knownGoodFacts(db, "n3")).toEqual({});
  });

  it("reads a run's shipped files back byte for byte, in path order, with their sha256 and size", () => {
    insertRun(db, { id: "r1", planName: "p", planPath: "p.yaml", planYaml: "plan: p", suites: {}, stages: ["fleet"], flags: [], createdAt: T0, mode: "full", planRevision: "x", options: {}, nodes: [] }, []);
    const binary = new Uint8Array([0, 1, 2, 255, 0]);
    const script = new TextEncoder().encode("#!/bin/sh\necho ünïcødé\n");
    insertRunFiles(db, "r1", { "s.yaml": [{ path: "t.bats", content: script, executable: true }, { path: "blob.bin", content: binary, executable: false }] });
    expect(runFiles(db, "r1")).toEqual({ "s.yaml": [{ path: "blob.bin", content: binary, executable: false }, { path: "t.bats", content: script, executable: true }] });
    expect(runFileHashes(db, "r1")).toEqual({
      "s.yaml": [
        { path: "blob.bin", sha256: sha256Hex(binary), bytes: 5, executable: false },
        { path: "t.bats", sha256: sha256Hex(script), bytes: script.length, executable: true },
      ],
    });
    expect(runFiles(db, "r2")).toEqual({});
  });
});
