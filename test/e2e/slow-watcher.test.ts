// Issue 16: a `coord run` that stops reading its watch (here: stopped with SIGSTOP while the run
// goes on) costs the coordinator a bounded backlog, not the whole run buffered in memory. The
// coordinator drops the check updates past its budget and says how many; once the follower reads
// again it still gets every task's last status and the run's end, and prints the verdict reached
// on the stored run. A watch's check updates carry no output tails but do carry captured values:
// each check captures two 60 kB values from its output, so the run's check updates (~24 MB) are three
// times the backlog's budget.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, coordInBackground, onlineNodes, startAgent, startCoordinator, waitFor, type CliResult, type Coordinator } from "../../scripts/local-fleet.js";
import { DEFAULT_WATCH_BACKLOG_BYTES } from "../../coordinator/server/watch-backlog.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const CHECKS = 40;
const ITERATIONS = 5;
/** Bytes of each of a check's two captured values: within the 64 KiB a value may have, 128 KiB together. */
const CAPTURED = 60_000;

// `a` × CAPTURED, a newline, `b` × CAPTURED: one value captured from each line.
const loud = `head -c ${CAPTURED} /dev/zero | tr '\\\\0' a; echo; head -c ${CAPTURED} /dev/zero | tr '\\\\0' b`;
// The first check gives the test time to stop the follower before any result is sent.
const SUITE = `suite: loud\nchecks:\n  - id: settle\n    command: { argv: [sleep, "1"] }\n${Array.from({ length: CHECKS - 1 }, (_, i) => `  - id: loud-${i + 1}\n    command: { argv: [sh, -c, "${loud}"] }\n    capture: { a: { regex: "^(a+)$" }, b: { regex: "^(b+)$" } }\n`).join("")}`;

describe("a follower that stops reading while the run goes on", () => {
  const ws = new Workspace();
  let c: Coordinator;
  let run: CliResult;
  let runId = "";

  beforeAll(async () => {
    expect(CHECKS * ITERATIONS * 2 * CAPTURED).toBeGreaterThan(2 * DEFAULT_WATCH_BACKLOG_BYTES);
    ws.write("loud.suite.yaml", SUITE);
    ws.write("plan.yaml", fleetPlan("slow-watcher", "loud.suite.yaml", ITERATIONS));
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "fleet" } }));
    await waitFor("agent online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));

    const follower = ws.track(coordInBackground(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]));
    runId = await waitFor("the run to start", () => /run (\S+) started/.exec(follower.stderr())?.[1]);
    // Its watch is open and read: the first task is shown started (during the `settle` check).
    await waitFor("the follower to show the first task", () => (follower.stdout().includes("[fleet] node-a #1  started") ? true : undefined));
    const pid = follower.process.pid!;
    process.kill(pid, "SIGSTOP");
    try {
      // The run goes on without its follower reading; well inside the 20 s keepalive, so the
      // stream is not dropped (a new watch would replay the run from the store).
      await waitFor("the run to finish", () => (queryDb<{ status: string }>(c.stateDir, "SELECT status FROM runs WHERE id = ?", runId)[0]?.status !== "running" ? true : undefined), 15_000);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    run = await follower.result;
  }, 60_000);

  afterAll(async () => ws.cleanup());

  it("stores every result: the run itself never waits for a watcher", () => {
    expect(queryDb(c.stateDir, "SELECT COUNT(*) AS n, SUM(c.status = 'passed') AS passed FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ?", runId)).toEqual([
      { n: CHECKS * ITERATIONS, passed: CHECKS * ITERATIONS },
    ]);
  });

  it("holds back a bounded backlog: the coordinator drops check updates past it and says how many", () => {
    const lines = c
      .stderr()
      .split("\n")
      .filter((l) => l.includes("fell behind"))
      .map((l) => JSON.parse(l) as { run: string; dropped: number; finished: boolean });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ run: runId, finished: true });
    expect(lines[0]!.dropped).toBeGreaterThan(0);
    expect(lines[0]!.dropped).toBeLessThan(CHECKS * ITERATIONS);
  });

  it("still gives the follower every task's last status and the run's end, and the verdict from the stored run", () => {
    const out = run.stdout.split("\n");
    for (let i = 1; i <= ITERATIONS; i++) expect(out, run.stdout).toContain(`[fleet] node-a #${i}  => passed: ${CHECKS}/${CHECKS} passed`);
    // Fewer check lines than results: those dropped were never sent; the stored run has them all.
    const checkLines = out.filter((l) => /^\[fleet\] node-a #\d {2}ok {4}/.test(l));
    expect(checkLines.length).toBeLessThan(CHECKS * ITERATIONS);
    // The verdict is the coordinator's, reached on the stored run; the loopback agent shares the
    // coordinator's host, so it cannot be GO.
    expect(run.stdout).toContain(`run ${runId} (slow-watcher): PASSED\nverdict: INCOMPLETE`);
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).not.toContain("lost the watch");
  });
});
