// Which addresses the agent and the CLI may reach in plaintext, and how a node certificate's
// name and machine-id are written and read back.
import { describe, expect, it } from "vitest";
import { channelCredentials, hostOf, isLoopback } from "../../shared/tls/channel.js";
import { nodeFromAltNames, nodeUris } from "../../shared/tls/node-names.js";
import { FleetgateError } from "../../shared/errors.js";

describe("plaintext only to loopback", () => {
  it("reads the host of host:port, [v6]:port and a bare host", () => {
    expect(hostOf("127.0.0.1:7400")).toBe("127.0.0.1");
    expect(hostOf("[::1]:7400")).toBe("::1");
    expect(hostOf("coord.example:7400")).toBe("coord.example");
    expect(hostOf("::1")).toBe("::1");
  });

  it("counts 127.0.0.0/8, ::1 and localhost as loopback, nothing else", () => {
    for (const a of ["127.0.0.1:1", "127.9.9.9:1", "[::1]:1", "localhost:7400"]) expect(isLoopback(a), a).toBe(true);
    for (const a of ["10.0.0.1:7400", "0.0.0.0:7400", "coord:7400", "[fe80::1]:1", "127.example.com:1"]) expect(isLoopback(a), a).toBe(false);
  });

  it("refuses plaintext off loopback with the fix, and allows it when asked (--insecure)", () => {
    expect(() => channelCredentials("10.0.0.5:7400", undefined, { insecure: false, caFlag: "--ca" })).toThrow(FleetgateError);
    expect(() => channelCredentials("10.0.0.5:7400", undefined, { insecure: false, caFlag: "--ca" })).toThrow(/^refusing plaintext to 10\.0\.0\.5:7400: .*Pass --ca FILE/);
    expect(channelCredentials("10.0.0.5:7400", undefined, { insecure: true, caFlag: "--ca" })._isSecure()).toBe(false);
    expect(channelCredentials("127.0.0.1:7400", undefined, { insecure: false, caFlag: "--ca" })._isSecure()).toBe(false);
  });
});

describe("a node certificate's names", () => {
  it("writes the node name and machine-id as URIs and reads them back from node:crypto's text", () => {
    const [name, machine] = nodeUris("node-a", "a".repeat(32));
    expect(nodeFromAltNames(`URI:${name}, URI:${machine}`)).toEqual({ name: "node-a", machineId: "a".repeat(32) });
  });

  it("finds no node in a certificate without both URIs", () => {
    expect(nodeFromAltNames("DNS:node-a, IP Address:10.0.0.1")).toBeUndefined();
    expect(nodeFromAltNames(`URI:${nodeUris("node-a", "a".repeat(32))[0]}`)).toBeUndefined();
    expect(nodeFromAltNames(undefined)).toBeUndefined();
  });
});
