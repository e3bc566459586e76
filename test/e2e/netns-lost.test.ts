// Lost within 30 s with the coordinator's defaults, on network-namespace hosts: from the moment an
// agent dies (SIGKILL) or its cable is pulled (veth down, nothing closes the stream) until its
// running task is marked lost. Timings are asserted with a margin; the bench measures them.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { coordInBackground, waitFor } from "../../scripts/local-fleet.js";
import { createNetnsFleet, type NetnsFleet } from "../harness/netns.js";
import { needsNetnsHost } from "../harness/preflight.js";
import { queryDb } from "./fixtures.js";

const GOAL_MS = 30_000;

describe.skipIf(!needsNetnsHost())("lost detection with the default timings", () => {
  let fleet: NetnsFleet;
  let plan = "";

  beforeAll(async () => {
    fleet = await createNetnsFleet({ nodes: [{ name: "beta", labels: { role: "fleet" } }], defaultTiming: true });
    const dir = join(fleet.coordinator.stateDir, "..", "plans");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "slow.suite.yaml"), "suite: slow\nchecks:\n  - id: long\n    command: { argv: [sleep, \"90\"] }\n    timeout: 2m\n");
    plan = join(dir, "slow.plan.yaml");
    writeFileSync(plan, "plan: slow\nstages:\n  - id: fleet\n    kind: fleet\n    suite: slow.suite.yaml\n    nodes: { role: fleet }\n");
  }, 120_000);

  afterEach(() => fleet.resetNetwork());
  afterAll(() => fleet?.cleanup());

  /** Starts a run, waits for its task to run on beta, applies `fault`, and measures until the task is lost. */
  async function msUntilLost(fault: () => Promise<void>): Promise<{ ms: number; summary: string }> {
    const run = coordInBackground(fleet.coordinator, ["run", "fleet", "--plan", plan]);
    const task = () => queryDb<{ status: string; summary: string }>(fleet.coordinator.stateDir, "SELECT status, summary FROM tasks ORDER BY rowid DESC LIMIT 1")[0];
    await waitFor("beta's task to run", () => (task()?.status === "running" ? true : undefined), 30_000);
    // Let a heartbeat or two pass, so the fault does not land just after one by luck.
    await new Promise((r) => setTimeout(r, 2_000));
    const t0 = Date.now();
    await fault();
    const lost = await waitFor("beta's task to be lost", () => (task()?.status === "lost" ? task() : undefined), GOAL_MS + 15_000);
    const ms = Date.now() - t0;
    await run.result;
    return { ms, summary: lost.summary };
  }

  /** beta's timeline in the evidence bundle of the newest run. */
  async function betaTimeline(): Promise<{ kind: string; why: string }[]> {
    const { stateDir } = fleet.coordinator;
    const [{ id }] = queryDb<{ id: string }>(stateDir, "SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1") as [{ id: string }];
    const bundle = join(stateDir, "runs", id);
    await waitFor("the run's evidence bundle", () => existsSync(join(bundle, "manifest.json")) || undefined);
    return (JSON.parse(readFileSync(join(bundle, "nodes", "beta", "timeline.json"), "utf8")) as { events: { kind: string; why: string }[] }).events;
  }

  it("marks the task lost within 30 s of the agent being SIGKILLed", async () => {
    await fleet.waitOnline(["beta"]);
    const { ms, summary } = await msUntilLost(() => fleet.killAgent("beta"));
    expect(summary).toMatch(/^node beta lost: not heard from for \d/);
    expect(ms).toBeLessThanOrEqual(GOAL_MS);
  }, 120_000);

  it("marks the task lost within 30 s of its link being cut", async () => {
    fleet.startAgent("beta");
    await fleet.waitOnline(["beta"]);
    const { ms, summary } = await msUntilLost(() => fleet.cutLink("beta"));
    expect(summary).toMatch(/^node beta lost: not heard from for \d/);
    expect(ms).toBeLessThanOrEqual(GOAL_MS);
    // The evidence tells a cut link from a dead agent: the stream went silent and was dropped, then the verdict.
    const events = await betaTimeline();
    expect(events.slice(-2).map((e) => e.kind), JSON.stringify(events)).toEqual(["disconnected", "lost"]);
    expect(events.at(-2)?.why).toMatch(/^silent for \d+ ms \(3 heartbeats\)$/);
    expect(events.at(-1)?.why).toBe(summary);
  }, 120_000);
});
