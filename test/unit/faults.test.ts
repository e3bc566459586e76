import { describe, expect, it } from "vitest";
import { checkPartitionAddresses, partitionScript } from "../../agent/daemon/faults.js";
import { peerAddress } from "../../coordinator/fleet/sessions.js";
import { FleetgateError } from "../../shared/errors.js";
import { parsePlan } from "../../shared/model/plan.js";

const FAULT_PLAN = (faults: boolean, fault: string) => `
plan: chaos
${faults ? "faults: true" : ""}
stages:
  - id: sync
    kind: cross
    roles: { origin: { role: fleet }, peer: { role: fleet } }
    steps:
      - { id: cut, fault: ${fault} }
      - { id: fetch, on: peer, command: { argv: ["true"] }, retry: { for: 1m, every: 1s } }
`;

describe("fault steps", () => {
  it("drops traffic both ways to each peer address, v4 and v6, in a table of its own", () => {
    expect(partitionScript("t1", ["10.231.0.12", "fd00::2"]).split("\n")).toEqual([
      "add table inet t1",
      "add chain inet t1 input { type filter hook input priority -10 ; }",
      "add chain inet t1 output { type filter hook output priority -10 ; }",
      "add rule inet t1 input ip saddr 10.231.0.12 drop",
      "add rule inet t1 output ip daddr 10.231.0.12 drop",
      "add rule inet t1 input ip6 saddr fd00::2 drop",
      "add rule inet t1 output ip6 daddr fd00::2 drop",
      "",
    ]);
  });

  it("refuses to partition from a loopback peer, which would cut the node off from everything on its host", () => {
    expect(() => checkPartitionAddresses(["127.0.0.1"])).toThrow(/loopback; nodes sharing one host cannot be partitioned/);
    expect(() => checkPartitionAddresses(["not-an-ip"])).toThrow(FleetgateError);
    expect(() => checkPartitionAddresses([])).toThrow("partition: no peer address to cut off");
  });

  it("parses a partition and a kill_agent step when the plan says faults: true", () => {
    expect(() => parsePlan(FAULT_PLAN(true, "{ partition: [origin, peer], for: 30s }"), "chaos.yaml")).not.toThrow();
    expect(() => parsePlan(FAULT_PLAN(true, "{ kill_agent: peer }"), "chaos.yaml")).not.toThrow();
  });

  it("refuses fault steps in a plan without faults: true, naming the step's line", () => {
    expect(() => parsePlan(FAULT_PLAN(false, "{ kill_agent: peer }"), "chaos.yaml")).toThrow(/chaos\.yaml:\d+:\d+.*allowed only with faults: true/s);
  });

  it("refuses a partition without for:, with one role twice, or naming an unknown role", () => {
    expect(() => parsePlan(FAULT_PLAN(true, "{ partition: [origin, peer] }"), "c.yaml")).toThrow(/a partition needs for: DURATION/);
    expect(() => parsePlan(FAULT_PLAN(true, "{ partition: [peer, peer], for: 5s }"), "c.yaml")).toThrow(/partition: needs two different roles/);
    expect(() => parsePlan(FAULT_PLAN(true, "{ kill_agent: relay }"), "c.yaml")).toThrow(/no role "relay"/);
  });

  it("reads the agent's address from the peer string grpc-js gives", () => {
    expect(peerAddress("ipv4:10.231.0.12:41234")).toBe("10.231.0.12");
    expect(peerAddress("127.0.0.1:5000")).toBe("127.0.0.1");
    expect(peerAddress("[::1]:5000")).toBe("::1");
    expect(peerAddress("ipv6:[fd00::2]:5000")).toBe("fd00::2");
  });
});
