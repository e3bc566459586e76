import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { queryDb, Workspace } from "./fixtures.js";
import { helloRequest, hostileClient, newMachineId, ScriptedAgent } from "../support/hostile-client.js";

describe("agent enrollment", () => {
  let ws: Workspace;
  let c: Coordinator;

  beforeEach(async () => {
    ws = new Workspace();
    c = ws.track(await startCoordinator(ws.path("state")));
  });
  afterEach(async () => ws.cleanup());

  it("refuses an unknown token with a clear message and registers nothing", async () => {
    const agent = ws.track(startAgent({ name: "intruder", address: c.address, token: "fge_not-a-real-token", stateDir: ws.path("intruder") }));
    const result = await agent.process;
    expect(result.exitCode).toBe(3);
    expect(agent.stderr()).toContain("refused this agent: enrollment token not recognised; create one with: coord token create");
    expect(queryDb(c.stateDir, "SELECT name FROM nodes")).toEqual([]);
    expect((await coord(c, ["nodes"])).stdout).toContain("no nodes registered");
  });

  it("refuses an expired token and says how long ago it expired", async () => {
    const token = (await coord(c, ["token", "create", "--ttl", "1s"])).stdout.trim();
    await sleep(1300);
    const agent = ws.track(startAgent({ name: "late", address: c.address, token, stateDir: ws.path("late") }));
    expect((await agent.process).exitCode).toBe(3);
    expect(agent.stderr()).toMatch(/enrollment token expired \d+(\.\d)? (ms|s) ago; create one with: coord token create/);
    expect(queryDb(c.stateDir, "SELECT name FROM nodes")).toEqual([]);
  });

  it("enrolls only as many agents as a token's --uses, refuses a revoked token, and lists both as such", async () => {
    const created = await coord(c, ["token", "create", "--uses", "1", "--description", "one box"]);
    const once = created.stdout.trim();
    const id = /^token ([0-9a-f]{12}): valid until .*, for 1 enrollment; revoke it with: coord token revoke \1$/m.exec(created.stderr)?.[1] ?? "";
    expect(id).not.toBe("");
    ws.track(startAgent({ name: "first", address: c.address, token: once, stateDir: ws.path("first") }));
    await waitFor("first online", async () => ((await onlineNodes(c)).includes("first") ? true : undefined));
    const second = ws.track(startAgent({ name: "second", address: c.address, token: once, stateDir: ws.path("second") }));
    expect((await second.process).exitCode).toBe(3);
    expect(second.stderr()).toContain("enrollment token already used 1 of 1 times; create one with: coord token create");

    const leaked = (await coord(c, ["token", "create", "--description", "leaked"])).stdout.trim();
    const leakedId = (await coord(c, ["token", "list", "--json"])).stdout.match(/"id": "([0-9a-f]{12})",\s*"description": "leaked"/)?.[1] ?? "";
    const revoked = await coord(c, ["token", "revoke", leakedId]);
    expect(revoked.exitCode, revoked.stderr).toBe(0);
    expect(revoked.stdout).toBe(`revoked enrollment token ${leakedId} (leaked); it was used 0 times`);
    const third = ws.track(startAgent({ name: "third", address: c.address, token: leaked, stateDir: ws.path("third") }));
    expect((await third.process).exitCode).toBe(3);
    expect(third.stderr()).toMatch(/enrollment token revoked \d+(\.\d)? m?s ago; create one with: coord token create/);

    const list = (await coord(c, ["token", "list"])).stdout;
    expect(list).toMatch(new RegExp(`^${id}\\s+used up\\s+1/1\\s+in \\d`, "m"));
    expect(list).toMatch(new RegExp(`^${leakedId}\\s+revoked\\s+0\\s`, "m"));
    expect(queryDb<{ name: string }>(c.stateDir, "SELECT name FROM nodes").map((n) => n.name)).toEqual(["first"]);
  });

  it("registers a node with its identity and labels, and keeps the token only as a hash", async () => {
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    ws.track(startAgent({ name: "node-1", address: c.address, token, stateDir: ws.path("node-1"), labels: { role: "primary", site: "lab" } }));
    await waitFor("node-1 online", async () => ((await onlineNodes(c)).includes("node-1") ? true : undefined));
    const [row] = queryDb<{ name: string; machine_id: string; labels_json: string }>(c.stateDir, "SELECT name, machine_id, labels_json FROM nodes");
    expect(row?.name).toBe("node-1");
    expect(row?.machine_id).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.parse(row?.labels_json ?? "{}")).toEqual({ role: "primary", site: "lab" });
    const hashes = queryDb<{ hash: string }>(c.stateDir, "SELECT hash FROM enroll_tokens");
    expect(hashes.map((h) => h.hash)).not.toContain(token);
    const nodes = await coord(c, ["nodes"]);
    expect(nodes.stdout).toMatch(/node-1\s+primary\s+online\s+now/);
  });

  it("lets an agent whose Registered reply was lost enroll again with the secret it sent, once, and nobody else", async () => {
    const token = (await coord(c, ["token", "create", "--uses", "1"])).stdout.trim();
    const client = hostileClient(c);
    const machineId = newMachineId();
    const hello = (enrollmentSecret: string) => helloRequest({ name: "node-a", machineId, enrollToken: token, enrollmentSecret, labels: { role: "fleet" }, tls: true });
    try {
      // The coordinator stores the node and replies; the agent never reads the reply (the link dropped).
      const first = new ScriptedAgent(client, hello("secret-of-node-a-".padEnd(43, "x")));
      await first.registered();
      first.close();
      await waitFor("node-a offline", async () => ((await onlineNodes(c)).includes("node-a") ? undefined : true));
      // Without the secret, the same hello is a new enrollment: the single-use token is spent.
      const impostor = new ScriptedAgent(client, hello("another-secret".padEnd(43, "y")));
      expect((await impostor.ended)?.details).toBe("enrollment token already used 1 of 1 times; create one with: coord token create");
      // The agent says hello again as it did, single-use token and all: it is let in.
      const again = new ScriptedAgent(client, hello("secret-of-node-a-".padEnd(43, "x")));
      await again.registered();
      const registered = again.responses.find((r) => r.msg.case === "registered");
      expect(registered?.msg.case === "registered" && registered.msg.value.nodeToken).toMatch(/^fgn_/);
      expect(await onlineNodes(c)).toEqual(["node-a"]);
      expect(queryDb(c.stateDir, "SELECT uses, max_uses FROM enroll_tokens")).toEqual([{ uses: 1, max_uses: 1 }]);
      again.close();
    } finally {
      client.close();
    }
  });

  it("refuses CLI calls without the admin token", async () => {
    const r = await coord({ address: c.address, stateDir: ws.path("not-the-state-dir") }, ["nodes"]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain("cannot read admin token");
  });
});
