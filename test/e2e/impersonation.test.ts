// A holder of a valid enrollment token starts an agent under a registered node's name: it is
// refused, the real agent stays connected and keeps answering its tasks, and no result of the
// impostor's is ever stored. Only after the operator frees the name does a new machine take it.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const PLAN = fleetPlan("p", "s.suite.yaml");
const SUITE = "suite: s\nchecks:\n  - id: echo\n    command: { argv: [echo, hi] }\n";

describe("an agent enrolling under a registered node's name", () => {
  const ws = new Workspace();
  let c: Coordinator;
  let real: Proc;
  let impostor: Proc;
  let token = "";
  const registrations = () => (c.stderr().match(/"node":"node-a"[^\n]*"msg":"agent registered"/g) ?? []).length;

  beforeAll(async () => {
    ws.write("s.suite.yaml", SUITE);
    ws.write("plan.yaml", PLAN);
    c = ws.track(await startCoordinator(ws.path("state")));
    token = (await coord(c, ["token", "create"])).stdout.trim();
    real = ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("real"), labels: { role: "fleet" } }));
    await waitFor("the real agent online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
  });

  afterAll(async () => ws.cleanup());

  it("is refused, naming the registered machine, and the real node stays connected and does the work", async () => {
    impostor = ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("impostor"), labels: { role: "fleet" } }));
    await waitFor("the impostor's refusal", () => (impostor.stderr().includes("node node-a is already registered") ? true : undefined), 20_000);
    expect(impostor.stderr()).toContain("an admin runs: coord nodes replace node-a");
    expect(registrations()).toBe(1);
    // The roster shows the conflict until an admin decides.
    const listed = await coord(c, ["nodes"]);
    expect(listed.stdout).toMatch(/CONFLICT: machine-id [0-9a-f]{12} \(host [^,]+, 127\.0\.0\.1\) claimed this name \d+x; coord nodes replace node-a hands it over/);
    expect(real.stderr()).not.toContain("node token refused");
    expect(await onlineNodes(c)).toEqual(["node-a"]);

    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    expect(run.stderr).not.toMatch(/refus/);
    expect(queryDb(c.stateDir, "SELECT status FROM tasks")).toEqual([{ status: "passed" }]);
    expect(real.stderr()).toContain("task started");
    expect(impostor.stderr()).not.toContain("task started");
    expect(registrations()).toBe(1);

    // The run's evidence shows the takeover attempt in node-a's timeline: from where, and why it was refused.
    const [{ id }] = queryDb<{ id: string }>(c.stateDir, "SELECT id FROM runs") as [{ id: string }];
    const bundle = join(c.stateDir, "runs", id);
    await waitFor("the run's evidence bundle", () => existsSync(join(bundle, "manifest.json")) || undefined);
    const timeline = JSON.parse(readFileSync(join(bundle, "nodes", "node-a", "timeline.json"), "utf8")) as { previous: unknown; events: { kind: string; why: string; address: string }[] };
    const all = [timeline.previous, ...timeline.events].filter(Boolean) as typeof timeline.events;
    expect(all.filter((e) => e.kind === "connected"), JSON.stringify(all)).toHaveLength(1);
    const refused = all.filter((e) => e.kind === "refused");
    expect(refused.length, JSON.stringify(all)).toBeGreaterThanOrEqual(1);
    expect(refused[0]?.address).toBe("127.0.0.1");
    expect(refused[0]?.why).toMatch(/^node node-a is already registered \(machine-id [0-9a-f]{12}, host .*\); this machine .* may not take it over with an enrollment token/);
  });

  it("frees the name only when asked, and not while the node is connected", async () => {
    const busy = await coord(c, ["nodes", "forget", "node-a"]);
    expect(busy.exitCode).toBe(3);
    expect(busy.stderr).toContain("node node-a is connected now");
    await real.stop("SIGKILL");
    await waitFor("node-a offline", async () => ((await onlineNodes(c)).includes("node-a") ? undefined : true), 30_000);
    const freed = await coord(c, ["nodes", "forget", "node-a"]);
    expect(freed.exitCode, freed.stderr).toBe(0);
    expect(freed.stdout).toMatch(/^forgot node node-a \(machine-id [0-9a-f]{12}, host /);
    // The waiting agent enrolls at its next retry, now that the operator freed the name.
    await waitFor("the new machine registered as node-a", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined), 30_000);
    expect(registrations()).toBe(2);
  }, 60_000);

  it("hands the name to the refused claimant with coord nodes replace, and the old machine's credentials stop working", async () => {
    const noClaim = await coord(c, ["nodes", "replace", "node-a"]);
    expect(noClaim.exitCode).toBe(3);
    expect(noClaim.stderr).toContain("no other machine has claimed node-a");
    const replacement = ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("replacement"), labels: { role: "fleet" } }));
    await waitFor("the replacement's refusal", () => (replacement.stderr().includes("coord nodes replace node-a") ? true : undefined), 20_000);
    expect((await coord(c, ["nodes", "replace", "node-a"])).stderr).toContain("node node-a is connected now");
    await impostor.stop("SIGKILL");
    await waitFor("node-a offline", async () => ((await onlineNodes(c)).includes("node-a") ? undefined : true), 30_000);
    const replaced = await coord(c, ["nodes", "replace", "node-a"]);
    expect(replaced.exitCode, replaced.stderr).toBe(0);
    expect(replaced.stdout).toMatch(/^node node-a goes to machine-id [0-9a-f]{12} \(host .*\) at its next enrollment/);
    await waitFor("the replacement registered as node-a", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined), 30_000);
    expect(registrations()).toBe(3);
    expect((await coord(c, ["nodes"])).stdout).not.toContain("CONFLICT");
    // The machine that held the name before presents its old token and certificate: refused.
    const old = ws.track(startAgent({ name: "node-a", address: c.address, token: "fge_unused", stateDir: ws.path("impostor"), labels: { role: "fleet" } }));
    await waitFor("the old machine's refusal", () => (old.stderr().includes("node token refused") ? true : undefined), 20_000);
    expect(registrations()).toBe(3);
  }, 90_000);
});
