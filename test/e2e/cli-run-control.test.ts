// Controlling a run from the coord CLI against a real coordinator and real agents: a --skip without
// a reason never reaches the coordinator, `coord cancel` stops a running run (and whoever follows
// it sees it end), and Ctrl-C off a terminal detaches without cancelling anything.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, coordInBackground, onlineNodes, startAgent, startCoordinator, waitFor, type CliResult, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { queryDb, Workspace } from "./fixtures.js";

// One check that takes far longer than the test: the run is certainly still going when the test
// acts on it. The timeout bounds it should anything go wrong.
const SUITE = `
suite: slow
checks:
  - id: slow
    command: { argv: [sleep, "30"] }
    timeout: 40s
`;

const PLAN = `
plan: control
stages:
  - id: fleet
    kind: fleet
    suite: slow.suite.yaml
    nodes: { role: fleet }
    iterations: 2
`;

interface Following {
  /** Everything the CLI printed to stdout so far. */
  stdout(): string;
  signal(sig: NodeJS.Signals): void;
  result: Promise<CliResult>;
}

/** `coord run …` in the background, stdin and stdout not a terminal, as in CI. */
function startFollowing(ws: Workspace, c: Coordinator, args: string[]): Following {
  const bg = ws.track(coordInBackground(c, args));
  return { stdout: bg.stdout, signal: (sig) => bg.process.kill(sig), result: bg.result };
}

const runIdIn = (stderr: string) => /run (\S+) started/.exec(stderr)?.[1];

describe("coord run control: --skip/--reason, cancel, watch and Ctrl-C", () => {
  const ws = new Workspace();
  let c: Coordinator;
  const agents = new Map<string, Proc>();

  const runs = () => queryDb<{ id: string; status: string }>(c.stateDir, "SELECT id, status FROM runs ORDER BY created_at");
  const tasksOf = (runId: string) => queryDb<{ node_name: string; iteration: number; status: string; summary: string }>(c.stateDir, "SELECT node_name, iteration, status, summary FROM tasks WHERE run_id = ? ORDER BY iteration", runId);

  beforeAll(async () => {
    ws.write("slow.suite.yaml", SUITE);
    ws.write("plan.yaml", PLAN);
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    // One node per test that starts a run, so a check still sleeping on one never delays another.
    for (const name of ["node-a", "node-b"]) agents.set(name, ws.track(startAgent({ name, address: c.address, token, stateDir: ws.path(name), labels: { role: "fleet" } })));
    await waitFor("both agents online", async () => ((await onlineNodes(c)).length === 2 ? true : undefined));
  });

  afterAll(() => ws.cleanup());

  it("refuses --skip without --reason with exit 3, before any run is created", async () => {
    const r = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml"), "--skip", "fleet"]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain("--skip fleet needs --reason TEXT (why it is skipped is listed in every report)");
    expect(runs()).toEqual([]);
    const listed = await coord(c, ["runs", "--json"]);
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });

  it("cancels a running run: its tasks end cancelled, the follower exits 2 and coord watch prints the summary", async () => {
    const follower = startFollowing(ws, c, ["run", "fleet", "--plan", ws.path("plan.yaml"), "--node", "node-a"]);
    await waitFor("node-a's first iteration to start", () => /\[fleet\] node-a #1 {2}started/.test(follower.stdout()) || undefined);
    const runId = runs().at(-1)?.id as string;

    const cancelled = await coord(c, ["cancel", runId, "--reason", "release pulled"]);
    expect(cancelled.exitCode, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain(`run ${runId} (control) cancelled: 2 of 2 tasks will not run`);
    expect(cancelled.stdout).toContain("fleet on node-a #1: cancelled: release pulled");

    const followed = await follower.result;
    expect(followed.exitCode, followed.stderr).toBe(2);
    expect(followed.stdout).toMatch(/fleet\s+node-a\s+cc 0\/2\s+cancelled\s+cancelled: release pulled/);
    expect(followed.stdout).toContain("verdict: INCOMPLETE");
    expect(tasksOf(runId).map((t) => `${t.node_name}#${t.iteration} ${t.status}`)).toEqual(["node-a#1 cancelled", "node-a#2 cancelled"]);
    expect(runs().at(-1)?.status).toBe("cancelled");
    // The cancel reached the node: the sleeping check was killed there, not left to run out.
    await waitFor("node-a to kill the cancelled check", () => /task cancelled; its running checks killed/.test(agents.get("node-a")?.stderr() ?? "") || undefined, 10_000);
    await waitFor("node-a to report the task over", () => /"status":"cancelled"/.test(agents.get("node-a")?.stderr() ?? "") || undefined, 10_000);

    const watched = await coord(c, ["watch", runId]);
    expect(watched.exitCode, watched.stderr).toBe(2);
    expect(watched.stdout).toMatch(/fleet\s+node-a\s+cc 0\/2\s+cancelled/);
    expect(watched.stdout).toContain(`verdict: INCOMPLETE\n  fleet on node-a #1: cancelled (cancelled: release pulled)`);
    expect(watched.stdout).toContain(`report: coord report ${runId} --format md`);
    // The summary at once: no replay of the run's progress before it.
    expect(watched.stdout).not.toContain("started");

    const again = await coord(c, ["cancel", runId]);
    expect(again.exitCode).toBe(3);
    expect(again.stderr).toContain(`run ${runId} already finished (cancelled); nothing to cancel`);
  });

  it("detaches on SIGINT off a terminal: exit 130, says how to follow and cancel, and the run goes on", async () => {
    const follower = startFollowing(ws, c, ["run", "fleet", "--plan", ws.path("plan.yaml"), "--node", "node-b"]);
    await waitFor("node-b's first iteration to start", () => /\[fleet\] node-b #1 {2}started/.test(follower.stdout()) || undefined);
    follower.signal("SIGINT");

    const r = await follower.result;
    expect(r.exitCode, r.stderr).toBe(130);
    const runId = runIdIn(r.stderr) as string;
    expect(runId).toBe(runs().at(-1)?.id);
    expect(r.stderr).toContain(`detached from run ${runId}; it goes on on the coordinator.`);
    expect(r.stderr).toContain(`coord watch ${runId}`);
    expect(r.stderr).toContain(`coord cancel ${runId}`);

    // Nothing was cancelled: the coordinator still runs it, and node-b is still on its check.
    expect(runs().at(-1)?.status).toBe("running");
    expect(tasksOf(runId).map((t) => t.status)).toEqual(["running", "pending"]);
    const shown = await coord(c, ["show", runId]);
    expect(shown.exitCode).toBe(2);
    expect(shown.stdout).toContain("verdict: INCOMPLETE\n  run has not finished");

    expect((await coord(c, ["cancel", runId])).exitCode).toBe(0);
  });

  it("refuses to cancel a run that does not exist", async () => {
    const r = await coord(c, ["cancel", "no-such-run"]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain("no run no-such-run; list them with: coord runs");
  });
});
