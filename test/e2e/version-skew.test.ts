// A rolling upgrade (issue 15, part 8): a real coordinator serves agents of its protocol and the
// one before it, refuses a newer one with the release to install (through the refusal log, with
// nothing stored and no enrollment spent), and `coord nodes` shows each agent's version and
// flags one older than the coordinator. Other protocols are spoken by a scripted agent on the
// wire (test/support/hostile-client.ts): production has no knob to fake a version.
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { retryAfterMs } from "../../shared/grpc/status.js";
import { PROTOCOL_REFUSED_RETRY_MS, PROTOCOL_VERSION } from "../../shared/protocol.js";
import { FLEETGATE_VERSION } from "../../shared/version.js";
import { queryDb, Workspace } from "./fixtures.js";
import { helloRequest, hostileClient, ScriptedAgent, servesTls } from "../support/hostile-client.js";

interface NodeJson {
  identity: { name: string; agentVersion?: string };
  online?: boolean;
  outdated?: boolean;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("agents of another release than the coordinator", () => {
  const ws = new Workspace();
  const clients: grpc.Client[] = [];
  const agents: ScriptedAgent[] = [];
  let c: Coordinator;
  let tls = false;

  const scripted = (name: string, token: string, protocolVersion: number, agentVersion: string) => {
    const client = hostileClient(c);
    clients.push(client);
    const agent = new ScriptedAgent(client, helloRequest({ name, enrollToken: token, protocolVersion, agentVersion, labels: { role: "fleet" }, tls }));
    agents.push(agent);
    return agent;
  };
  const token = async (uses = 0) => (await coord(c, ["token", "create", "--uses", String(uses)])).stdout.trim();
  const nodesJson = async () => JSON.parse((await coord(c, ["nodes", "--json"])).stdout) as NodeJson[];

  beforeAll(async () => {
    c = ws.track(await startCoordinator(ws.path("state")));
    tls = servesTls(c);
  });

  afterAll(async () => {
    for (const a of agents) a.close();
    for (const made of clients) made.close();
    await ws.cleanup();
  });

  it("serves an agent of the previous protocol (N-1) and shows it in coord nodes with its version, flagged outdated", async () => {
    const old = scripted("node-old", await token(), PROTOCOL_VERSION - 1, "0.0.9");
    await old.registered();
    const listed = await coord(c, ["nodes"]);
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^NAME\s+ROLE\s+STATUS\s+LAST SEEN\s+VERSION\s/);
    expect(listed.stdout).toMatch(new RegExp(`^node-old\\s+fleet\\s+online\\s+now\\s+0\\.0\\.9\\s.*outdated \\(coordinator ${escape(FLEETGATE_VERSION)}\\)$`, "m"));
    const json = (await nodesJson()).find((n) => n.identity.name === "node-old");
    expect(json).toMatchObject({ identity: { agentVersion: "0.0.9" }, online: true, outdated: true });
  });

  it("serves a real agent of this release (protocol N), shown with the coordinator's version and not outdated", async () => {
    ws.track(startAgent({ name: "node-now", address: c.address, token: await token(), stateDir: ws.path("agent-now"), labels: { role: "fleet" } }));
    await waitFor("node-now online", async () => ((await onlineNodes(c)).includes("node-now") ? true : undefined));
    const json = (await nodesJson()).find((n) => n.identity.name === "node-now");
    expect(json?.identity.agentVersion).toBe(FLEETGATE_VERSION);
    expect(json?.outdated).toBeUndefined();
    const row = (await coord(c, ["nodes"])).stdout.split("\n").find((l) => l.startsWith("node-now "));
    expect(row).toMatch(new RegExp(`^node-now\\s+fleet\\s+online\\s+now\\s+${escape(FLEETGATE_VERSION)}\\s`));
    // On this host it is flagged as running on the coordinator's own host, and nothing else.
    expect(row).not.toContain("outdated");
  });

  it("refuses an agent of the next protocol (N+1) with the release to install, stores nothing, spends no enrollment and counts it in coord refusals", async () => {
    const once = await token(1);
    const newer = scripted("node-new", once, PROTOCOL_VERSION + 1, "9.1.0");
    const refused = await newer.ended;
    const release = FLEETGATE_VERSION.split("+")[0]!.split(".").slice(0, 2).join(".");
    const message =
      `agent node-new speaks protocol ${PROTOCOL_VERSION + 1} (fleetgate 9.1.0); this coordinator (fleetgate ${FLEETGATE_VERSION}) speaks ${PROTOCOL_VERSION - 1}–${PROTOCOL_VERSION}: ` +
      `install fleetgate-agent ${release}.x on node-new or upgrade the coordinator to 9.1.x (coordinator first, then the nodes)`;
    expect(refused?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(refused?.details).toBe(message);
    // The agent asks again at this pace, not every few seconds.
    expect(retryAfterMs(refused)).toBe(PROTOCOL_REFUSED_RETRY_MS);
    expect(queryDb(c.stateDir, "SELECT name FROM nodes WHERE name = 'node-new'")).toEqual([]);

    await waitFor("the protocol_version refusal listed", async () => {
      const r = JSON.parse((await coord(c, ["refusals", "--json"])).stdout) as { recent?: { kind: string; code: string; claimed?: string; message: string }[] };
      return r.recent?.find((x) => x.kind === "protocol_version");
    }).then((r) => expect(r).toEqual({ kind: "protocol_version", code: "FAILED_PRECONDITION", claimed: "node-new", message, side: "agent", atMs: expect.any(String), peer: expect.any(String) }));
    const table = await coord(c, ["refusals"]);
    expect(table.stdout).toMatch(/^agent\s+protocol_version\s+1\s/m);

    // The one-use token is still unspent: the same machine at this release enrolls with it.
    await scripted("node-new", once, PROTOCOL_VERSION, "0.1.0").registered();
  });

  it("refuses protocols further off the same way: N+2, the highest a uint32 holds, and N-2 once there is one", async () => {
    for (const protocol of [PROTOCOL_VERSION + 2, 2 ** 32 - 1]) {
      const refused = await scripted("node-far", await token(), protocol, "").ended;
      expect(refused?.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(refused?.details).toMatch(new RegExp(`^agent node-far speaks protocol ${protocol} \\(fleetgate version not sent\\); this coordinator .*: install fleetgate-agent \\d+\\.\\d+\\.x on node-far or upgrade the coordinator`));
    }
    // While the protocol is 1, N-2 cannot be sent (uint32; 0 is N-1, the agents before the field):
    // test/unit/protocol.test.ts proves N-2 against a coordinator of protocol 3.
    if (PROTOCOL_VERSION >= 2) {
      const refused = await scripted("node-older", await token(), PROTOCOL_VERSION - 2, "0.0.1").ended;
      expect(refused?.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(refused?.details).toMatch(/^agent node-older speaks protocol \d+ \(fleetgate 0\.0\.1\); .*: install fleetgate-agent \d+\.\d+\.x on node-older \(a coordinator serves agents one release back at most\)$/);
    }
  });
});
