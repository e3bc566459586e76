// coord rollout (issue 18) on network-namespace hosts with real agents: each node runs the fake app
// of examples/rollout/ (a version file, a data marker and a health endpoint served in the node's own
// namespace), and the example change files move it. What is asserted is what is on each node's
// disk, the exit code, and the report (`coord rollout show ID --json`).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { coordInBackground, ROOT, waitFor, type CliResult } from "../../scripts/local-fleet.js";
import { createNetnsFleet, type NetnsFleet } from "../harness/netns.js";
import { needsNetnsHost } from "../harness/preflight.js";
import { needsTool } from "../support/system-tools.js";
import { queryDb } from "./fixtures.js";

const EXAMPLES = join(ROOT, "examples", "rollout");
const PLAN = join(EXAMPLES, "gate.plan.yaml");
const change = (name: string) => join(EXAMPLES, `${name}.change.yaml`);
/** Every node's app listens on this port on its own loopback (each namespace has its own). */
const APP_PORT = "18080";
const NODES = [
  { name: "alpha", role: "primary" },
  { name: "beta", role: "fleet" },
  { name: "gamma", role: "fleet" },
];
const NAMES = NODES.map((n) => n.name);
const ORIGINAL = { version: "1.0.0\n", marker: "original\n" };
/** The slow apply's sleep: a length no other program on the host is likely to sleep, so it can be found. */
const SLOW_APPLY_SECONDS = "7.913";

/** Whether a process with exactly this argv runs on the host (any namespace: /proc shows them all). */
function running(argv: string[]): boolean {
  const want = `${argv.join("\0")}\0`;
  return readdirSync("/proc").some((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8") === want;
    } catch {
      return false; // gone meanwhile
    }
  });
}

/** `coord rollout show ID --json`: the Rollout message as proto3 JSON (empty fields omitted). */
interface RolloutJson {
  id: string;
  status: string;
  summary?: string;
  nodes: RolloutNodeJson[];
  events?: { atMs: string; kind: string; text?: string; who?: string }[];
}
interface RolloutNodeJson {
  name: string;
  batch?: number;
  phase?: string;
  outcome?: string;
  factsBefore?: Record<string, string>;
  factsAfter?: Record<string, string>;
  knownGoodAdvanced?: boolean;
  holdReasons?: string[];
  approval?: string;
  runs?: { phase: string; runId?: string; status?: string; summary?: string }[];
  note?: string;
  gateStatus?: string;
  proofStatus?: string;
}

// curl: the gate's http check and the waits below.
const runs = [needsNetnsHost(), needsTool("curl", "curl")].every(Boolean);

describe.skipIf(!runs)("coord rollout on network-namespace hosts", () => {
  let fleet: NetnsFleet;
  let work = "";
  const appDir = (node: string) => join(work, "apps", node);
  const onDisk = (node: string) => ({
    version: readFileSync(join(appDir(node), "version"), "utf8"),
    marker: readFileSync(join(appDir(node), "data", "marker"), "utf8"),
  });

  /** Every node back at 1.0.0 with its original data, no snapshot left from an earlier rollout. */
  function resetApps(): void {
    for (const node of NAMES) {
      const dir = appDir(node);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(join(dir, "data"), { recursive: true });
      writeFileSync(join(dir, "version"), ORIGINAL.version);
      writeFileSync(join(dir, "data", "marker"), ORIGINAL.marker);
    }
  }

  /** The status code of the node's health endpoint as the node's own curl sees it ("200"). */
  async function health(node: string): Promise<string> {
    const r = await fleet.run(node, ["curl", "-sS", "-m", "2", "-w", "%{http_code} ", "-o", "/dev/null", `http://127.0.0.1:${APP_PORT}/health`]);
    return r.stdout.trim();
  }

  /** The coord CLI, killed (and the test failed with what it printed) if it runs past `ms`. */
  async function coordWithin(args: string[], ms: number): Promise<CliResult> {
    const cli = coordInBackground(fleet.coordinator, args);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), ms)));
    const done = await Promise.race([cli.result, late]);
    clearTimeout(timer);
    if (done === "late") {
      await cli.stop("SIGKILL");
      throw new Error(`coord ${args.join(" ")} still running after ${ms} ms; stdout:\n${cli.stdout()}\nstderr:\n${cli.stderr()}`);
    }
    return done;
  }

  const rollout = (name: string, args: string[] = [], ms = 150_000) => coordWithin(["rollout", "--plan", PLAN, "--change", change(name), ...args], ms);

  async function show(id: string): Promise<RolloutJson> {
    const r = await coordWithin(["rollout", "show", id, "--json"], 20_000);
    if (r.exitCode !== 0) throw new Error(`coord rollout show ${id} --json: exit ${r.exitCode}\n${r.stderr}`);
    return JSON.parse(r.stdout) as RolloutJson;
  }

  /** The newest rollout (`coord rollouts --json`, newest first), which must be of `change`. */
  async function newestRollout(changeName: string): Promise<string> {
    const r = await coordWithin(["rollouts", "--json", "--limit", "1"], 20_000);
    expect(r.exitCode, said(r)).toBe(0);
    const [newest] = JSON.parse(r.stdout) as { id: string; change: string }[];
    expect(newest?.change, r.stdout).toBe(changeName);
    return newest!.id;
  }

  /** The alert of `kind` about this rollout's node (`coord alerts --json`; subject ROLLOUT/NODE), if raised. */
  async function alertOf(kind: string, id: string, node: string): Promise<{ state: string; summary: string } | undefined> {
    const r = await coordWithin(["alerts", "--json"], 20_000);
    expect(r.exitCode, said(r)).toBe(0);
    return (JSON.parse(r.stdout) as { kind: string; subject: string; state: string; summary: string }[]).find((a) => a.kind === kind && a.subject === `${id}/${node}`);
  }

  const nodeOf = (r: RolloutJson, name: string) => {
    const n = r.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`rollout ${r.id} has no node ${name}: ${JSON.stringify(r.nodes.map((x) => x.name))}`);
    return n;
  };
  /** The phases that ran as runs (a phase with nothing to run is listed without a run id). */
  const phasesRun = (n: RolloutNodeJson) => (n.runs ?? []).filter((x) => x.runId).map((x) => x.phase);
  const said = (r: CliResult) => `exit ${r.exitCode}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "fleetgate-rollout-"));
    resetApps();
    fleet = await createNetnsFleet({
      nodes: NODES.map((n) => ({ name: n.name, labels: { role: n.role }, env: { APP_DIR: appDir(n.name), APP_PORT } })),
    });
    for (const node of NAMES) fleet.exec(node, [process.execPath, join(EXAMPLES, "app-server.mjs"), appDir(node), APP_PORT]);
    for (const node of NAMES) await waitFor(`${node}'s app to answer`, async () => ((await health(node)) === "200" ? true : undefined), 20_000);
  }, 120_000);

  beforeEach(() => resetApps());
  afterEach(() => fleet.resetNetwork());
  afterAll(async () => {
    await fleet?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it("prints the batches and every step on --dry-run and touches nothing: no file, no rollout, no run", async () => {
    const before = { rollouts: (await coordWithin(["rollouts", "--json"], 20_000)).stdout, runs: queryDb(fleet.coordinator.stateDir, "SELECT id FROM runs").length };
    const r = await rollout("good", ["--dry-run"], 30_000);
    expect(r.exitCode, said(r)).toBe(0);
    // The nodes in the order they would be changed (primary first, then by name), one per batch …
    expect(r.stdout).toMatch(/^\s*batch 1: alpha\n\s*batch 2: beta\n\s*batch 3: gamma$/m);
    // … and every step each would run, with the command the agent would run.
    for (const [step, command] of [
      ["version", "cat"],
      ["copy-data", "cp -a"],
      ["copy-version", "cp"],
      ["install", "1.1.0"],
      ["migrate", "migrated to 1.1.0"],
      ["restore", "snap-data"],
    ] as const) {
      expect(r.stdout, `step ${step} in:\n${r.stdout}`).toMatch(new RegExp(`\\b${step}  \\$ .*${command}`));
    }
    expect(r.stdout, "the gate's preconditions, checked before anything changes").toContain("app-data-present");
    expect(r.stdout).toMatch(/nothing was executed/);
    for (const node of NAMES) expect(onDisk(node)).toEqual(ORIGINAL);
    for (const node of NAMES) expect(existsSync(join(appDir(node), "snap-data")), `${node} has a snapshot`).toBe(false);
    expect((await coordWithin(["rollouts", "--json"], 20_000)).stdout).toBe(before.rollouts);
    expect(queryDb(fleet.coordinator.stateDir, "SELECT id FROM runs").length).toBe(before.runs);
  }, 60_000);

  it("rolls a good change through the three nodes one at a time, primary first, and advances known-good", async () => {
    const r = await rollout("good", ["--batch", "1"]);
    expect(r.exitCode, said(r)).toBe(0);
    const report = await show(await newestRollout("app-1.1.0"));
    expect(report.status).toBe("completed");
    for (const node of NAMES) {
      const n = nodeOf(report, node);
      expect(n.outcome, `${node}: ${JSON.stringify(n)}`).toBe("changed");
      expect(n.factsBefore?.version).toBe("1.0.0");
      expect(n.factsAfter?.version).toBe("1.1.0");
      expect(n.knownGoodAdvanced).toBe(true);
      expect(n.gateStatus).toBe("STATUS_PASSED");
      expect(phasesRun(n)).toEqual(["facts", "preconditions", "snapshot", "apply", "gate", "facts_after"]);
      expect(onDisk(node)).toEqual({ version: "1.1.0\n", marker: "original\nmigrated to 1.1.0\n" });
      expect(await health(node)).toBe("200");
    }
    // Batches of one: alpha (role=primary) first, then by name; a node's phases all end before the
    // next node's first phase starts, as the runs the coordinator stored show.
    expect(NAMES.map((node) => nodeOf(report, node).batch)).toEqual([1, 2, 3]);
    const times = (node: string) => {
      const ids = (nodeOf(report, node).runs ?? []).flatMap((x) => (x.runId ? [x.runId] : []));
      const rows = queryDb<{ created_at: number; finished_at: number }>(fleet.coordinator.stateDir, `SELECT created_at, finished_at FROM runs WHERE id IN (${ids.map(() => "?").join(",")})`, ...ids);
      expect(rows).toHaveLength(ids.length);
      return { first: Math.min(...rows.map((x) => x.created_at)), last: Math.max(...rows.map((x) => x.finished_at)) };
    };
    const [alpha, beta, gamma] = NAMES.map(times) as [ReturnType<typeof times>, ReturnType<typeof times>, ReturnType<typeof times>];
    expect(alpha.last).toBeLessThanOrEqual(beta.first);
    expect(beta.last).toBeLessThanOrEqual(gamma.first);
  }, 180_000);

  it("keeps a change its quick gate passed but never advances known-good with --quick", async () => {
    const r = await rollout("good", ["--quick"]);
    expect(r.exitCode, said(r)).toBe(0);
    const report = await show(await newestRollout("app-1.1.0"));
    expect(report.status).toBe("completed");
    for (const node of NAMES) {
      const n = nodeOf(report, node);
      expect(n.outcome, JSON.stringify(n)).toBe("changed");
      expect(n.gateStatus).toBe("STATUS_PASSED");
      expect(n.knownGoodAdvanced ?? false).toBe(false);
      expect(n.factsAfter?.version).toBe("1.1.0");
      expect(onDisk(node).version).toBe("1.1.0\n");
    }
  }, 180_000);

  it("rolls a bad version back on the first node with its data restored, and leaves the other two untouched", async () => {
    const r = await rollout("broken", ["--batch", "1"]);
    expect(r.exitCode, said(r)).toBe(1);
    const id = await newestRollout("app-1.2.0-broken");
    const report = await show(id);
    expect(report.status).toBe("stopped");
    const alpha = nodeOf(report, "alpha");
    expect(alpha.outcome, JSON.stringify(alpha)).toBe("rolled_back");
    expect(alpha.gateStatus).toBe("STATUS_FAILED");
    expect(alpha.proofStatus).toBe("STATUS_PASSED");
    expect(phasesRun(alpha)).toEqual(["facts", "preconditions", "snapshot", "apply", "gate", "rollback", "proof", "facts_rolled_back"]);
    // The migration rewrote the marker; only the snapshot could have brought "original" back.
    expect(onDisk("alpha")).toEqual(ORIGINAL);
    expect(await health("alpha")).toBe("200");
    for (const node of ["beta", "gamma"]) {
      const n = nodeOf(report, node);
      expect(n.outcome, JSON.stringify(n)).toBe("untouched");
      expect(n.phase ?? "pending").toBe("pending");
      expect(n.runs ?? []).toEqual([]);
      expect(onDisk(node)).toEqual(ORIGINAL);
      expect(existsSync(join(appDir(node), "snap-data")), `${node} has a snapshot`).toBe(false);
    }
    expect(await alertOf("rollout_rolled_back", id, "alpha")).toBeDefined();
  }, 180_000);

  it("changes nothing on a node whose gate preconditions do not hold, and stops there with the precondition's hint", async () => {
    rmSync(join(appDir("alpha"), "data", "marker"));
    const r = await rollout("good", ["--batch", "1"]);
    expect(r.exitCode, said(r)).toBe(1);
    const id = await newestRollout("app-1.1.0");
    const report = await show(id);
    expect(report.status).toBe("stopped");
    const alpha = nodeOf(report, "alpha");
    expect(alpha.outcome, JSON.stringify(alpha)).toBe("not_changed");
    expect(alpha.note).toMatch(/app-data-present/);
    expect(alpha.note).toMatch(/restore it first/);
    expect(phasesRun(alpha)).toEqual(["facts", "preconditions"]);
    expect(readFileSync(join(appDir("alpha"), "version"), "utf8")).toBe(ORIGINAL.version);
    expect(existsSync(join(appDir("alpha"), "snap-data")), "alpha has a snapshot").toBe(false);
    for (const node of ["beta", "gamma"]) {
      expect(nodeOf(report, node).outcome).toBe("untouched");
      expect(onDisk(node)).toEqual(ORIGINAL);
    }
    expect(await alertOf("rollout_stopped", id, "alpha")).toBeDefined();
  }, 180_000);

  it("holds a major bump on the first node before touching it, then completes once a person approves", async () => {
    const r = await rollout("major", ["--batch", "1"]);
    expect(r.exitCode, said(r)).toBe(2);
    const id = await newestRollout("app-2.0.0");
    const held = await show(id);
    expect(held.status).toBe("held");
    const alpha = nodeOf(held, "alpha");
    expect(alpha.phase).toBe("held");
    expect(alpha.holdReasons?.join("\n"), JSON.stringify(alpha)).toMatch(/major.*1\.0\.0.*2\.0\.0/i);
    expect(phasesRun(alpha)).toEqual(["facts"]);
    for (const node of NAMES) expect(onDisk(node)).toEqual(ORIGINAL);
    for (const node of NAMES) expect(existsSync(join(appDir(node), "snap-data")), `${node} has a snapshot`).toBe(false);

    expect((await alertOf("rollout_held", id, "alpha"))?.state).toBe("open");

    const resume = await coordWithin(["rollout", "resume", id, "--approve", "--reason", "tested in staging"], 20_000);
    expect(resume.exitCode, said(resume)).toBe(0);
    const watch = await coordWithin(["rollout", "watch", id], 150_000);
    expect(watch.exitCode, said(watch)).toBe(0);
    const done = await show(id);
    expect(done.status).toBe("completed");
    expect(nodeOf(done, "alpha").approval).toMatch(/tested in staging/);
    expect(done.events?.some((e) => e.kind === "approved" && /tested in staging/.test(e.text ?? "")), JSON.stringify(done.events)).toBe(true);
    // The approval covers the same rule on beta and gamma: nobody is asked again.
    expect(done.events?.filter((e) => e.kind === "held").length, JSON.stringify(done.events)).toBe(1);
    for (const node of NAMES) {
      expect(nodeOf(done, node).outcome).toBe("changed");
      expect(onDisk(node)).toEqual({ version: "2.0.0\n", marker: "original\nmigrated to 2.0.0\n" });
    }
    expect((await alertOf("rollout_held", id, "alpha"))?.state).toBe("resolved");
  }, 240_000);

  it("stops with alpha in unknown state when its agent is SIGKILLed during apply, and never reaches beta or gamma", async () => {
    // A change whose apply says when it started, then takes long enough to be caught in the act.
    const slow = readFileSync(change("good"), "utf8").replace("change: app-1.1.0\n", "change: app-1.1.0-slow\n").replace(
      /apply:\n[\s\S]*?\n\n/,
      `apply:\n  - id: install\n    command: { shell: 'touch "$APP_DIR/applying" && sleep ${SLOW_APPLY_SECONDS} && printf "1.1.0\\n" > "$APP_DIR/version"' }\n    timeout: 30s\n\n`,
    );
    expect(slow).toContain("change: app-1.1.0-slow\n");
    expect(slow).toContain(`sleep ${SLOW_APPLY_SECONDS}`);
    const slowFile = join(work, "slow.change.yaml");
    writeFileSync(slowFile, slow);
    const cli = coordInBackground(fleet.coordinator, ["rollout", "--plan", PLAN, "--change", slowFile, "--batch", "1"]);
    try {
      await waitFor("alpha's apply to start", () => {
        if (cli.process.exitCode !== null) throw new Error(`coord rollout ended before alpha's apply started:\n${cli.stdout()}\n${cli.stderr()}`);
        return (existsSync(join(appDir("alpha"), "applying")) && running(["sleep", SLOW_APPLY_SECONDS])) || undefined;
      }, 60_000);
      await fleet.killAgent("alpha");
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([cli.result, new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), 90_000)))]);
      clearTimeout(timer);
      if (!r) throw new Error(`coord rollout did not end within 90 s of alpha's agent dying:\n${cli.stdout()}\n${cli.stderr()}`);
      expect(r.exitCode, said(r)).toBe(2);
      const id = await newestRollout("app-1.1.0-slow");
      const report = await show(id);
      expect(report.status).toBe("stopped");
      const alpha = nodeOf(report, "alpha");
      expect(alpha.outcome, JSON.stringify(alpha)).toBe("unknown_state");
      expect(alpha.note ?? "", "the note says what to check").toMatch(/check/);
      expect(alpha.runs?.at(-1), JSON.stringify(alpha.runs)).toMatchObject({ phase: "apply", status: "STATUS_LOST" });
      // Never assumed rolled back: no rollback ran on a node nobody can hear.
      expect(phasesRun(alpha)).not.toContain("rollback");
      for (const node of ["beta", "gamma"]) {
        expect(nodeOf(report, node).outcome).toBe("untouched");
        expect(onDisk(node)).toEqual(ORIGINAL);
      }
      expect(await alertOf("rollout_unknown_state", id, "alpha")).toBeDefined();
    } finally {
      await cli.stop("SIGKILL");
      // The apply's shell is in a process group of its own, which outlives the agent that started
      // it (nothing is left to kill it): let it end before the fleet goes away.
      await waitFor("the killed agent's apply step to end", () => !running(["sleep", SLOW_APPLY_SECONDS]) || undefined, 20_000);
      fleet.startAgent("alpha");
      await fleet.waitOnline(["alpha"]);
    }
  }, 180_000);
});
