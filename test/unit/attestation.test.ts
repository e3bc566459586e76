import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { attestationFlags } from "../../coordinator/judgement/attestation.js";
import { NodeIdentitySchema } from "../../shared/gen/fleetgate/v1/common_pb.js";

const node = (name: string, machineId: string, bootId: string) => ({ identity: create(NodeIdentitySchema, { name, machineId, bootId }) });
const OWN = { machineId: "c".repeat(32), bootId: "coordinator-boot" };

describe("attestation flags", () => {
  it("flags nodes sharing a machine-id, each naming the other", () => {
    const flags = attestationFlags([node("a", "1".repeat(32), "b1"), node("b", "1".repeat(32), "b2"), node("c", "2".repeat(32), "b3")], OWN);
    expect([...flags]).toEqual([
      ["a", ["shares machine-id with b"]],
      ["b", ["shares machine-id with a"]],
    ]);
  });

  it("flags a node on the coordinator's host by its machine-id, and by its boot id whatever machine-id it claims", () => {
    const flags = attestationFlags([node("same-machine", OWN.machineId, "other-boot"), node("namespace", "3".repeat(32), OWN.bootId), node("clean", "4".repeat(32), "b4")], OWN);
    expect(flags.get("same-machine")).toEqual(["runs on the coordinator's own host"]);
    expect(flags.get("namespace")).toEqual(["runs on the coordinator's own host"]);
    expect(flags.has("clean")).toBe(false);
  });

  it("flags a node the fleet saw answered by two machines at once", () => {
    const flags = attestationFlags([node("n", "5".repeat(32), "b5")], OWN, (name) => (name === "n" ? "two machines answered as node n at once" : undefined));
    expect(flags.get("n")).toEqual(["is cloned: two machines answered as node n at once"]);
  });

  it("does not flag anything when the coordinator cannot read its own ids", () => {
    expect([...attestationFlags([node("n", "", "")], { machineId: "", bootId: "" })]).toEqual([]);
  });
});
