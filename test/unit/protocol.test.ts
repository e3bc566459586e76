import { describe, expect, it } from "vitest";
import { PROTOCOL_VERSION, protocolRefusal, servedProtocols, type ProtocolSkew } from "../../shared/protocol.js";
import { compareReleases, isOutdated } from "../../shared/version.js";

const skew = (agentProtocol: number, o: Partial<ProtocolSkew> = {}): string | undefined =>
  protocolRefusal({ node: "node-a", agentProtocol, agentVersion: "0.4.0", coordinatorProtocol: 3, coordinatorVersion: "0.3.0+g1a2b3c4", ...o });

describe("which agent protocols a coordinator serves", () => {
  it("serves its own protocol and the one before it (N and N-1), nothing older or newer", () => {
    expect(servedProtocols(3)).toEqual({ oldest: 2, newest: 3 });
    expect(skew(3)).toBeUndefined();
    expect(skew(2)).toBeUndefined();
    expect(skew(1)).toBeDefined();
    expect(skew(4)).toBeDefined();
  });

  it("serves the agents of the release before protocol versions (they send 0) while it speaks 1", () => {
    expect(PROTOCOL_VERSION).toBe(1);
    expect(servedProtocols(PROTOCOL_VERSION)).toEqual({ oldest: 0, newest: 1 });
    expect(protocolRefusal({ node: "n", agentProtocol: 0, agentVersion: "0.1.0", coordinatorProtocol: PROTOCOL_VERSION, coordinatorVersion: "0.2.0" })).toBeUndefined();
  });

  it("tells a newer agent which release to install instead, or to upgrade the coordinator first", () => {
    expect(skew(4)).toBe(
      "agent node-a speaks protocol 4 (fleetgate 0.4.0); this coordinator (fleetgate 0.3.0+g1a2b3c4) speaks 2–3: install fleetgate-agent 0.3.x on node-a or upgrade the coordinator to 0.4.x (coordinator first, then the nodes)",
    );
  });

  it("tells an agent two protocols behind (N-2) to install the coordinator's release", () => {
    expect(skew(1, { agentVersion: "0.1.5" })).toBe(
      "agent node-a speaks protocol 1 (fleetgate 0.1.5); this coordinator (fleetgate 0.3.0+g1a2b3c4) speaks 2–3: install fleetgate-agent 0.3.x on node-a (a coordinator serves agents one release back at most)",
    );
    expect(skew(0, { agentVersion: "" })).toMatch(/^agent node-a speaks protocol 0 \(fleetgate version not sent\);/);
  });
});

describe("release order (coord nodes: outdated)", () => {
  it("orders releases by semver, ignoring build metadata and placing a prerelease before its release", () => {
    expect(compareReleases("0.1.0+g1a2b3c4", "0.1.0")).toBe(0);
    expect(compareReleases("0.1.9", "0.2.0")).toBe(-1);
    expect(compareReleases("0.10.0", "0.9.0")).toBe(1);
    expect(compareReleases("1.0.0", "0.99.99")).toBe(1);
    expect(compareReleases("0.2.0-rc.1", "0.2.0")).toBe(-1);
    expect(compareReleases("0.2.0-rc.2", "0.2.0-rc.10")).toBe(-1);
    expect(compareReleases("0.2.0-alpha", "0.2.0-alpha.1")).toBe(-1);
    expect(compareReleases("", "0.2.0")).toBeUndefined();
    expect(compareReleases("garbage", "0.2.0")).toBeUndefined();
  });

  it("flags an agent older than the coordinator, not one of the same release on another commit, nor one that sent no version", () => {
    expect(isOutdated("0.1.0", "0.2.0+gabcdef0")).toBe(true);
    expect(isOutdated("0.2.0+g1111111", "0.2.0+g2222222")).toBe(false);
    expect(isOutdated("0.3.0", "0.2.0")).toBe(false);
    expect(isOutdated("", "0.2.0")).toBe(false);
  });
});
