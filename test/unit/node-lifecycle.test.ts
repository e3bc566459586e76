// coord nodes drain|undrain|label on the store: the node's row changes, the agent's own labels stay
// as it sent them, the merged set is what selectors see, and every change is in the node's timeline.
import { create } from "@bufbuild/protobuf";
import { beforeEach, describe, expect, it } from "vitest";
import { applyLabelEdits, mergedLabels, parseLabelEdits } from "../../coordinator/fleet/node-labels.js";
import { drain, noteForgotten, relabel, undrain } from "../../coordinator/fleet/node-lifecycle.js";
import type { Db } from "../../coordinator/store/db.js";
import { nodeEventsAround, recordNodeEvent } from "../../coordinator/store/node-events.js";
import { selectTimeline } from "../../coordinator/evidence/timeline.js";
import { forgetNode, getNode, nodeLabels, upsertNode } from "../../coordinator/store/nodes.js";
import { NodeIdentitySchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { refusal } from "../support/refusal.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

describe("label edits (k=v, k-)", () => {
  it("parses sets and removals as kubectl label does", () => {
    expect(parseLabelEdits(["role=canary", "site-", "zone=eu-1", "empty="])).toEqual({ set: { role: "canary", zone: "eu-1", empty: "" }, remove: ["site"] });
  });

  it("refuses anything else, naming the argument", () => {
    expect(refusal(() => parseLabelEdits(["role"])).message).toBe('label "role": expected KEY=VALUE to set or KEY- to remove (keys: letters, digits, . _ / -), e.g. role=fleet');
    expect(refusal(() => parseLabelEdits(["=x"])).code).toBe("bad_input");
    expect(refusal(() => parseLabelEdits([])).message).toContain("give at least one label");
    expect(refusal(() => parseLabelEdits(["a=1", "a-"])).message).toBe("label a is both set and removed; give one of the two");
  });

  it("lets the coordinator's value win over the agent's for a key both set", () => {
    expect(mergedLabels({ role: "fleet", site: "ams" }, { role: "canary" })).toEqual({ role: "canary", site: "ams" });
    expect(applyLabelEdits({ role: "canary", x: "1" }, { set: { y: "2" }, remove: ["role", "absent"] })).toEqual({ x: "1", y: "2" });
  });
});

describe.each(STORE_ENGINES)("drain, undrain and labels in the store (%s)", (engine) => {
  const store = storeOf(engine);
  let db: Db;
  const identity = create(NodeIdentitySchema, { name: "n1", machineId: "m1", bootId: "b1", hostname: "h1", labels: { role: "fleet", site: "ams" }, capabilities: [], factsJson: "{}" });

  beforeEach(async () => {
    db = await store.open();
    upsertNode(db, identity, "hash", 1000);
  });

  const timeline = () => nodeEventsAround(db, "n1", 0, 10_000).sort((a, b) => a.seq - b.seq).map((e) => `${e.kind}: ${e.why}`);

  it("drains with who and why, keeps the drain over a re-registration, and undrains", () => {
    expect(drain(db, "n1", " kernel upgrade ", "ann", 2000).already).toBe(false);
    expect(getNode(db, "n1")?.drain).toEqual({ reason: "kernel upgrade", at: 2000, by: "ann" });
    upsertNode(db, identity, "hash", 2500);
    expect(getNode(db, "n1")?.drain?.reason).toBe("kernel upgrade");
    expect(drain(db, "n1", "disk swap", "bob", 3000).already).toBe(true);
    expect(undrain(db, "n1", "ann", 4000).wasDrained).toBe(true);
    expect(getNode(db, "n1")?.drain).toBeUndefined();
    expect(undrain(db, "n1", "ann", 5000).wasDrained).toBe(false);
    expect(timeline()).toEqual(["drained: by ann: kernel upgrade", "drained: by bob: disk swap", "undrained: by ann; drained since 1970-01-01T00:00:03.000Z (disk swap)"]);
  });

  it("stores coordinator labels apart from the agent's, which a re-registration does not touch", () => {
    relabel(db, "n1", parseLabelEdits(["role=canary", "rack=r7"]), "ann", 2000);
    upsertNode(db, create(NodeIdentitySchema, { ...identity, labels: { role: "fleet" } }), "hash", 2500);
    const row = getNode(db, "n1")!;
    expect(row.identity.labels).toEqual({ role: "fleet" });
    expect(row.coordLabels).toEqual({ role: "canary", rack: "r7" });
    expect(nodeLabels(row)).toEqual({ role: "canary", rack: "r7" });
    relabel(db, "n1", parseLabelEdits(["role-", "rack=r7"]), "bob", 3000);
    expect(nodeLabels(getNode(db, "n1")!)).toEqual({ role: "fleet", rack: "r7" });
    // Nothing changed: nothing recorded.
    relabel(db, "n1", parseLabelEdits(["rack=r7"]), "bob", 3500);
    expect(timeline()).toEqual(["labelled: by ann: rack=r7, role=canary", "labelled: by bob: role- (was canary)"]);
  });

  it("shows an operator's change inside a run's timeline window, but never takes one for how things stood when it opened", () => {
    recordNodeEvent(db, { node: "n1", at: 1500, kind: "connected", why: "", address: "10.0.0.7" });
    drain(db, "n1", "disk swap", "ann", 2000);
    const window = { from: 3000, to: 9000 };
    undrain(db, "n1", "ann", 4000);
    const t = selectTimeline("n1", nodeEventsAround(db, "n1", window.from, window.to), window);
    expect(t.previous?.kind).toBe("connected");
    expect(t.events.map((e) => e.kind)).toEqual(["undrained"]);
  });

  it("refuses an unknown node, and forget drops drain and labels with the row while the timeline keeps who forgot it", () => {
    expect(refusal(() => drain(db, "nope", "", "ann")).message).toBe("no node nope; list them with: coord nodes");
    drain(db, "n1", "", "ann", 2000);
    relabel(db, "n1", parseLabelEdits(["role=canary"]), "ann", 2100);
    forgetNode(db, "n1");
    noteForgotten(db, "n1", "m1", "root", 2200);
    upsertNode(db, identity, "hash2", 3000);
    expect(getNode(db, "n1")).toMatchObject({ drain: undefined, coordLabels: {} });
    expect(timeline().at(-1)).toBe("forgotten: by root; machine-id m1; its node token no longer works");
  });
});
