// The coordinator's Tailscale roster: tagged peers of the tailnet (tailscaled's LocalAPI status)
// that no registered agent answers for, by Tailscale IP or DNS name.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { missingLine, missingMachines } from "../../coordinator/fleet/roster-diff.js";
import { rosterMessage, rosterOverride, rosterLine, storedRoster } from "../../coordinator/fleet/run-roster.js";
import { TailscaleRoster } from "../../coordinator/fleet/tailscale-roster.js";
import { parseTailscalePeers, type TailscalePeer } from "../../shared/tailscale.js";

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../fixtures/tailscale/${name}`, import.meta.url)), "utf8");
const TAGGED = fixture("localapi-v0-status-tagged-peers.constructed.json");
const UNTAGGED = fixture("localapi-v0-status-running.constructed.json");

describe("parseTailscalePeers", () => {
  it("reads each Peer's host name, DNS name without the dot, IPs, tags, online and LastSeen (zero time: 0), Self left out", () => {
    const peers = parseTailscalePeers(TAGGED);
    expect(peers.map((p) => p.dnsName)).toEqual(["ci-runner.tail1234.ts.net", "fleet-a.tail1234.ts.net", "fleet-b.tail1234.ts.net", "fleet-c.tail1234.ts.net", "laptop.tail1234.ts.net"]);
    expect(peers.find((p) => p.hostName === "fleet-b")).toEqual({
      hostName: "fleet-b",
      dnsName: "fleet-b.tail1234.ts.net",
      ips: ["100.64.0.12", "fd7a:115c:a1e0::c"],
      tags: ["tag:fleet"],
      online: false,
      lastSeenMs: Date.parse("2024-11-02T08:30:00Z"),
    });
    expect(peers.find((p) => p.hostName === "fleet-a")?.lastSeenMs).toBe(0);
    // The untagged peer omits Tags altogether (omitempty).
    expect(peers.find((p) => p.hostName === "laptop")?.tags).toEqual([]);
  });

  it("gives no peers for a status without a Peer map", () => {
    expect(parseTailscalePeers('{"BackendState":"NeedsLogin","Peer":null}')).toEqual([]);
  });
});

describe("missingMachines (pure roster diff)", () => {
  const peers = parseTailscalePeers(TAGGED);
  const names = (missing: TailscalePeer[]) => missing.map((m) => m.hostName);

  it("lists every peer carrying the tag when no agent has registered, and only those", () => {
    const diff = missingMachines(peers, "tag:fleet", []);
    expect(diff.tagged).toBe(3);
    expect(names(diff.missing)).toEqual(["fleet-a", "fleet-b", "fleet-c"]);
    expect(names(missingMachines(peers, "tag:ci", []).missing)).toEqual(["ci-runner"]);
  });

  it("counts a machine as having an agent when a node reported one of its Tailscale IPs", () => {
    const diff = missingMachines(peers, "tag:fleet", [{ name: "db-1", tailscale: { dnsName: "", ips: ["fd7a:115c:a1e0::b"] } }]);
    expect(names(diff.missing)).toEqual(["fleet-b", "fleet-c"]);
  });

  it("counts it by DNS name too, whatever the case and a trailing dot", () => {
    const diff = missingMachines(peers, "tag:fleet", [{ name: "x", tailscale: { dnsName: "FLEET-C.tail1234.ts.net.", ips: [] } }]);
    expect(names(diff.missing)).toEqual(["fleet-a", "fleet-b"]);
  });

  it("never matches by the node's name or hostname alone: HostName is not unique", () => {
    const diff = missingMachines(peers, "tag:fleet", [{ name: "fleet-a" }, { name: "fleet-b", tailscale: { dnsName: "", ips: [] } }]);
    expect(names(diff.missing)).toEqual(["fleet-a", "fleet-b", "fleet-c"]);
  });

  it("says how many have no agent, by DNS name", () => {
    expect(missingLine(missingMachines(peers, "tag:fleet", []).missing.slice(0, 2))).toBe("2 fleet machines have no agent: fleet-a.tail1234.ts.net, fleet-b.tail1234.ts.net");
    expect(missingLine(missingMachines(peers, "tag:ci", []).missing)).toBe("1 fleet machine has no agent: ci-runner.tail1234.ts.net");
    expect(missingLine([])).toBe("");
  });
});

describe("the roster on a run", () => {
  const peers = parseTailscalePeers(TAGGED);
  const view = (over: object = {}) => ({ tag: "tag:fleet", polledAt: 1_700_000_000_000, error: "", ...missingMachines(peers, "tag:fleet", [{ name: "a", tailscale: { dnsName: "fleet-a.tail1234.ts.net", ips: [] } }]), ...over });

  it("narrows a run with a fleet stage (override missing-agents) and says which machines", () => {
    const o = rosterOverride(storedRoster(view()), true);
    expect(o).toEqual({ name: "missing-agents", detail: "2 fleet machines have no agent: fleet-b.tail1234.ts.net, fleet-c.tail1234.ts.net (tailscale tag:fleet)" });
  });

  it("leaves a run without a fleet stage, or with every machine covered, unnarrowed", () => {
    expect(rosterOverride(storedRoster(view()), false)).toBeUndefined();
    expect(rosterOverride(storedRoster(view({ missing: [], tagged: 3 })), true)).toBeUndefined();
    expect(rosterOverride(undefined, true)).toBeUndefined();
  });

  it("treats a roster tailscaled never answered as unknown, which narrows a fleet run too", () => {
    const unknown = storedRoster({ tag: "tag:fleet", tagged: 0, missing: [], polledAt: 0, error: "tailscaled at /x: no such socket" });
    expect(rosterOverride(unknown, true)?.detail).toBe("fleet roster (tailscale tag:fleet) unknown: tailscaled at /x: no such socket; fleet machines without an agent could not be listed");
  });

  it("says every fleet machine has an agent when none is missing", () => {
    expect(rosterLine(rosterMessage(storedRoster(view({ missing: [], tagged: 3 })))!)).toBe("every fleet machine has an agent (3 tagged tag:fleet)");
  });
});

describe("TailscaleRoster against a fake LocalAPI socket", () => {
  let dir: string;
  let server: Server | undefined;
  const log = pino({ level: "silent" });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-roster-"));
  });
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const serve = async (socket: string, answers: () => [number, string]) => {
    server = createServer((req, res) => {
      const [status, body] = req.url === "/localapi/v0/status" && req.headers.host === "local-tailscaled.sock" ? answers() : [404, "not found"];
      res.writeHead(status, { "content-type": "application/json" }).end(body);
    });
    await new Promise<void>((resolve) => server?.listen(socket, resolve));
  };

  it("keeps the poll's error, not fatal, and lists the machines once tailscaled answers", async () => {
    const socket = join(dir, "tailscaled.sock");
    const roster = new TailscaleRoster({ tag: "tag:fleet", socketPath: socket, log, agents: () => [] });
    await roster.refresh();
    expect(roster.view()).toMatchObject({ tagged: 0, missing: [], polledAt: 0, error: `tailscaled at ${socket}: no such socket (is tailscaled running here?)` });
    let body = UNTAGGED;
    await serve(socket, () => [200, body]);
    await roster.refresh();
    expect(roster.view()).toMatchObject({ tagged: 0, missing: [], error: "" });
    body = TAGGED;
    const seen: string[][] = [];
    const polled = new TailscaleRoster({ tag: "tag:fleet", socketPath: socket, log, agents: () => [{ name: "n", tailscale: { dnsName: "", ips: ["100.64.0.13"] } }], onPoll: (m) => seen.push(m.map((p) => p.hostName)) });
    await polled.refresh();
    expect(polled.view().missing.map((m) => m.hostName)).toEqual(["fleet-a", "fleet-b"]);
    expect(seen).toEqual([["fleet-a", "fleet-b"]]);
  });

  it("keeps the last roster with the error when a later poll gets HTTP 500", async () => {
    const socket = join(dir, "tailscaled.sock");
    let status = 200;
    await serve(socket, () => [status, status === 200 ? TAGGED : "backend error"]);
    const roster = new TailscaleRoster({ tag: "tag:fleet", socketPath: socket, log, agents: () => [] });
    await roster.refresh();
    const first = roster.view();
    status = 500;
    await roster.refresh();
    expect(roster.view()).toMatchObject({ tagged: 3, polledAt: first.polledAt, error: `tailscaled at ${socket}: HTTP 500: backend error` });
    expect(rosterLine(rosterMessage(storedRoster(roster.view()))!)).toContain(`3 fleet machines have no agent: fleet-a.tail1234.ts.net, fleet-b.tail1234.ts.net, fleet-c.tail1234.ts.net (tailscale tag:fleet; as last read at ${new Date(first.polledAt).toISOString()}, since then: tailscaled at ${socket}: HTTP 500: backend error)`);
  });

  it("gives up on a tailscaled that does not answer within the timeout", async () => {
    const socket = join(dir, "tailscaled.sock");
    server = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((resolve) => server?.listen(socket, resolve));
    const roster = new TailscaleRoster({ tag: "tag:fleet", socketPath: socket, log, agents: () => [], timeoutMs: 200 });
    const started = Date.now();
    await roster.refresh();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(roster.view().error).toBe(`tailscaled at ${socket}: no answer within 200 ms`);
  });
});

describe("coord nodes --missing as text", () => {
  it("lists each machine with its DNS name, IPs, whether tailscale sees it online, and when it was last seen", async () => {
    const { formatMissing } = await import("../../coordinator/cli/node-commands.js");
    const now = Date.parse("2024-11-02T10:30:00Z");
    const peers = parseTailscalePeers(TAGGED);
    const r = rosterMessage(storedRoster({ tag: "tag:fleet", polledAt: now - 3_000, error: "", ...missingMachines(peers, "tag:fleet", [{ name: "a", tailscale: { dnsName: "fleet-a.tail1234.ts.net", ips: [] } }]) }))!;
    expect(formatMissing(r, now).split("\n")).toEqual([
      "2 fleet machines have no agent: fleet-b.tail1234.ts.net, fleet-c.tail1234.ts.net (tailscale tag:fleet); tailscale roster read 3.0 s ago",
      "NAME     DNS NAME                 IPS                            TAILSCALE  LAST SEEN",
      "fleet-b  fleet-b.tail1234.ts.net  100.64.0.12,fd7a:115c:a1e0::c  offline    2 h ago",
      "fleet-c  fleet-c.tail1234.ts.net  100.64.0.13,fd7a:115c:a1e0::d  online     now",
      "install and start fleetgate-agent on each (or remove the tag); an agent counts once it registers with this machine's tailscale IP or DNS name",
    ]);
  });
});
