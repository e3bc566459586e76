// Cross-node scenarios on real hosts-in-namespaces (test/harness/netns.ts): each node has its own
// address, machine-id and hostname, so a value captured on one node and used on another really
// crossed the network, and a partition really cuts one node off from another.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { coordInBackground, waitFor } from "../../scripts/local-fleet.js";
import { createNetnsFleet, type NetnsFleet } from "../harness/netns.js";
import { needsNetnsHost } from "../harness/preflight.js";
import { needsTool } from "../support/system-tools.js";
import { queryDb } from "./fixtures.js";

interface TaskRow {
  id: string;
  step_id: string;
  node_name: string;
  status: string;
  summary: string;
  started_at: number;
  finished_at: number;
}

// python3 serves a page on one node; curl (the http check, and the waits below) fetches it on another.
const runs = [needsNetnsHost(), needsTool("curl", "curl"), needsTool("python3", "python3")].every(Boolean);

describe.skipIf(!runs)("cross-node scenarios on network-namespace hosts", () => {
  let fleet: NetnsFleet;
  let web = "";
  let plans = "";
  const tasks = (runId: string) =>
    queryDb<TaskRow>(fleet.coordinator.stateDir, "SELECT id, step_id, node_name, status, summary, started_at, finished_at FROM tasks WHERE run_id = ? ORDER BY ordinal", runId);
  const lastRun = () => queryDb<{ id: string }>(fleet.coordinator.stateDir, "SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1")[0]?.id ?? "";
  const byStep = (runId: string) => new Map(tasks(runId).map((t) => [t.step_id, t]));
  const writePlan = (name: string, text: string) => {
    const file = join(plans, name);
    writeFileSync(file, text);
    return file;
  };
  /** A plan with fault steps allowed and one cross stage, roles origin and peer, of these steps. */
  const faultPlan = (name: string, steps: string[]) =>
    writePlan(
      `${name}.plan.yaml`,
      `plan: ${name}
faults: true
stages:
  - id: sync
    kind: cross
    roles: { origin: { role: fleet }, peer: { role: fleet } }
    steps:
${steps.map((step) => `      - ${step}`).join("\n")}
`,
    );
  /** A fault step cuts peer off from origin, then peer fetches origin's page with retry; then one more step. */
  const partitionPlan = (name: string, t: { partitionFor: string; retryFor: string }) =>
    faultPlan(name, [
      `{ id: cut, fault: { partition: [peer, origin], for: ${t.partitionFor} } }`,
      `{ id: fetch, on: peer, http: { url: "${web}", status: 200 }, timeout: 2s, retry: { for: ${t.retryFor}, every: 1s } }`,
      `{ id: after, on: origin, command: { argv: ["true"] } }`,
    ]);
  /**
   * `coord run` bounded well inside the test's timeout: one still going then fails saying where
   * each step stood and what the coordinator last said about `node`, not with a bare timeout.
   */
  const runWithin = async (ms: number, node: string, args: string[]) => {
    const cli = coordInBackground(fleet.coordinator, args);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const steps = tasks(lastRun()).map((t) => `${t.step_id}: ${t.status} ${t.summary}`);
        const said = fleet.coordinator.stderr().split("\n").filter((l) => l.includes(`"${node}"`)).slice(-12);
        void cli.stop("SIGKILL");
        reject(new Error(`coord run still going after ${ms} ms\nsteps:\n${steps.join("\n")}\ncoord run said:\n${cli.stderr()}\ncoordinator on ${node}:\n${said.join("\n")}`));
      }, ms);
    });
    try {
      return await Promise.race([cli.result, late]);
    } finally {
      clearTimeout(timer);
    }
  };
  const run = (plan: string, args: string[] = []) => fleet.coord(["run", "all", "--plan", plan, "--bind", "origin=alpha", "--bind", "peer=beta", ...args]);

  beforeAll(async () => {
    fleet = await createNetnsFleet({
      nodes: ["alpha", "beta", "gamma"].map((name) => ({ name, labels: { role: "fleet" }, agentArgs: ["--allow-faults"] })),
    });
    plans = join(fleet.coordinator.stateDir, "..", "plans");
    mkdirSync(plans, { recursive: true });
    // A web server on alpha: what the other nodes fetch across the bridge.
    const docroot = join(plans, "www");
    mkdirSync(docroot, { recursive: true });
    writeFileSync(join(docroot, "doc.json"), '{"ok": true}\n');
    const alpha = fleet.node("alpha").address;
    web = `http://${alpha}:8080/doc.json`;
    fleet.exec("alpha", ["python3", "-m", "http.server", "8080", "--bind", alpha, "--directory", docroot]);
    await waitFor("alpha's web server", async () => ((await fleet.run("beta", ["curl", "-sf", "-m", "2", web])).exitCode === 0 ? true : undefined), 20_000);
  }, 120_000);

  afterEach(() => fleet.resetNetwork());
  afterAll(() => fleet?.cleanup());

  it("passes a value captured on one node to steps on two others, and holds the last step until the parallel group finished", async () => {
    const plan = writePlan(
      "captures.plan.yaml",
      `plan: captures
stages:
  - id: federation
    kind: cross
    roles: { origin: { role: fleet }, peer: { role: fleet }, witness: { role: fleet } }
    steps:
      - id: publish
        on: origin
        command: { argv: [sh, -c, 'printf "{\\"id\\": \\"doc-%s\\"}" "$(hostname)"'] }
        capture: { doc_id: { json: .id } }
      - id: both-fetch
        parallel:
          - { id: peer-fetch, on: peer, http: { url: "${web}", status: 200 } }
          - { id: witness-fetch, on: witness, http: { url: "${web}", status: 200 } }
      - id: witness-sees
        on: witness
        command: { argv: [echo, "\${origin.doc_id}"], expect: { stdout: doc-alpha } }
`,
    );
    const r = await fleet.coord(["run", "all", "--plan", plan, "--bind", "origin=alpha", "--bind", "peer=beta", "--bind", "witness=gamma"]);
    const steps = byStep(lastRun());
    expect([...steps.values()].map((t) => `${t.step_id}@${t.node_name}=${t.status}`)).toEqual([
      "publish@alpha=passed",
      "peer-fetch@beta=passed",
      "witness-fetch@gamma=passed",
      "witness-sees@gamma=passed",
    ]);
    const last = steps.get("witness-sees") as TaskRow;
    for (const id of ["peer-fetch", "witness-fetch"]) expect(last.started_at).toBeGreaterThanOrEqual(steps.get(id)?.finished_at ?? Infinity);
    // Distinct hosts, no attestation flag: this run is GO.
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  }, 60_000);

  it("a step retried across a partition passes once the partition heals", async () => {
    const plan = partitionPlan("heals", { partitionFor: "4s", retryFor: "30s" });
    await run(plan);
    const runId = lastRun();
    const steps = byStep(runId);
    expect(steps.get("cut")?.status).toBe("passed");
    expect(steps.get("cut")?.summary).toContain(`cut off from origin (alpha) (${fleet.node("alpha").address}) for 4`);
    expect(steps.get("fetch")?.status).toBe("passed");
    const attempts = queryDb<{ attempts: number; attempts_json: string }>(fleet.coordinator.stateDir, "SELECT attempts, attempts_json FROM check_results WHERE task_id = ?", steps.get("fetch")?.id);
    // It failed while cut off, then passed: the retry is what carried it.
    expect(attempts[0]?.attempts).toBeGreaterThan(1);
    expect((JSON.parse(attempts[0]?.attempts_json ?? "[]") as { passed?: boolean }[])[0]?.passed ?? false).toBe(false);
  }, 60_000);

  it("a partition longer than the retry window fails the step with its last observation", async () => {
    const plan = partitionPlan("outlasts", { partitionFor: "10s", retryFor: "3s" });
    const r = await run(plan);
    const steps = byStep(lastRun());
    expect(steps.get("fetch")?.status).toBe("failed");
    const result = queryDb<{ summary: string }>(fleet.coordinator.stateDir, "SELECT summary FROM check_results WHERE task_id = ?", steps.get("fetch")?.id)[0];
    expect(result?.summary).toMatch(/timed out|timeout|curl/i);
    expect(steps.get("after")?.status).toBe("skipped");
    expect(steps.get("after")?.summary).toContain("not run: sync/fetch on peer (beta) failed");
    expect(r.exitCode).toBe(1);
    // The agent heals its own partition when for: runs out.
    await waitFor("the partition to heal", async () => ((await fleet.run("beta", ["curl", "-sf", "-m", "1", web])).exitCode === 0 ? true : undefined), 20_000);
  }, 60_000);

  it("an agent killed mid-step makes the step lost and skips the steps after it, saying why", async () => {
    const plan = writePlan(
      "lost.plan.yaml",
      `plan: lost
stages:
  - id: sync
    kind: cross
    roles: { origin: { role: fleet }, peer: { role: fleet } }
    steps:
      - { id: long, on: peer, command: { argv: [sleep, "30"] }, timeout: 60s }
      - { id: after, on: origin, command: { argv: ["true"] } }
`,
    );
    const running = coordInBackground(fleet.coordinator, ["run", "all", "--plan", plan, "--bind", "origin=alpha", "--bind", "peer=beta"]).result;
    await waitFor("step long running on beta", () => (tasks(lastRun()).find((t) => t.step_id === "long")?.status === "running" ? true : undefined), 20_000);
    await fleet.killAgent("beta");
    const r = await running;
    const steps = byStep(lastRun());
    expect(steps.get("long")?.status).toBe("lost");
    expect(steps.get("long")?.summary).toContain("node beta lost");
    expect(steps.get("after")?.status).toBe("skipped");
    expect(steps.get("after")?.summary).toContain("not run: sync/long on peer (beta) lost");
    expect(r.exitCode).toBe(2);
  }, 60_000);

  it("a kill_agent fault step passes, and the next step on that node is lost, not failed", async () => {
    const plan = faultPlan("crash", [
      "{ id: crash, fault: { kill_agent: peer } }",
      '{ id: peer-still-there, on: peer, command: { argv: ["true"] } }',
      '{ id: after, on: origin, command: { argv: ["true"] } }',
    ]);
    const r = await runWithin(45_000, "gamma", ["run", "all", "--plan", plan, "--bind", "origin=alpha", "--bind", "peer=gamma"]);
    const steps = byStep(lastRun());
    expect(steps.get("crash")?.status).toBe("passed");
    expect(steps.get("crash")?.summary).toBe("agent killed on purpose (kill_agent fault)");
    expect(steps.get("peer-still-there")?.status).toBe("lost");
    expect(steps.get("after")?.summary).toContain("not run: sync/peer-still-there on peer (gamma) lost");
    expect(r.exitCode).toBe(2);
    const agent = fleet.node("gamma").agent?.process;
    expect(agent?.signalCode).toBe("SIGKILL");
  }, 60_000);
});
