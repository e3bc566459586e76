// Issue 12, item 2: a check printing megabytes that are not UTF-8 once wedged its node for ever
// (a 6 MB result over the 4 MiB gRPC limit, resent on every reconnect, 2.5 times a second).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { coord, coordInBackground, onlineNodes, startAgent, startCoordinator, waitFor, type CliResult, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { RESULT_BUDGET } from "../../shared/model/limits.js";
import { queryDb, Workspace } from "./fixtures.js";

// 3 MB of \377 on stdout and on stderr: each byte decodes to U+FFFD, 3 bytes of UTF-8.
const NOISY = `#!/bin/sh
head -c 3000000 /dev/zero | tr '\\0' '\\377'
head -c 3000000 /dev/zero | tr '\\0' '\\377' >&2
exit 1
`;

const plan = (suite: string) => `plan: ${suite}\nstages:\n  - id: fleet\n    kind: fleet\n    suite: ${suite}.suite.yaml\n    nodes: { role: fleet }\n`;

/** How long a run may take here: far more than the checks need, far less than for ever. */
const RUN_BOUND_MS = 40_000;

describe("a check whose output is megabytes of invalid UTF-8", () => {
  let ws: Workspace;
  let c: Coordinator;
  let agent: Proc;

  beforeEach(async () => {
    ws = new Workspace();
    const script = ws.write("noisy.sh", NOISY);
    ws.write("noisy.suite.yaml", `suite: noisy\nchecks:\n  - id: noisy\n    command: { argv: [sh, "${script}"] }\n`);
    ws.write("quiet.suite.yaml", "suite: quiet\nchecks:\n  - id: echo\n    command: { argv: [echo, hello], expect: { stdout: hello } }\n");
    ws.write("noisy.plan.yaml", plan("noisy"));
    ws.write("quiet.plan.yaml", plan("quiet"));
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    agent = ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "fleet" } }));
    await waitFor("the agent online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
  });

  afterEach(async () => ws.cleanup());

  /** `coord run`, failing the test if the run has not ended within RUN_BOUND_MS. */
  async function runWithin(planFile: string): Promise<CliResult> {
    const bg = ws.track(coordInBackground(c, ["run", "fleet", "--plan", ws.path(planFile)]));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the run did not end within ${RUN_BOUND_MS} ms; coord printed:\n${bg.stdout()}\nagent log:\n${agent.stderr().slice(-3000)}`)), RUN_BOUND_MS);
    });
    try {
      return await Promise.race([bg.result, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  it("is reported failed with bounded output tails, the run ends, the agent never reconnects, and the next run on the node works", async () => {
    const noisy = await runWithin("noisy.plan.yaml");
    expect(noisy.exitCode, noisy.stderr).toBe(1);
    expect(noisy.stdout).toContain("verdict: NO-GO");

    const rows = queryDb<{ status: string; summary: string; out: Buffer; err: Buffer }>(
      c.stateDir,
      "SELECT r.status, r.summary, CAST(r.stdout_tail AS BLOB) AS out, CAST(r.stderr_tail AS BLOB) AS err FROM check_results r",
    );
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.status).toBe("failed");
    expect(row.summary).toMatch(/^expected exit 0, saw 1: /);
    expect(Buffer.byteLength(row.summary)).toBeLessThanOrEqual(RESULT_BUDGET.summaryBytes);
    for (const tail of [row.out, row.err]) {
      expect(tail.length).toBeLessThanOrEqual(RESULT_BUDGET.outputTailBytes);
      expect(tail.length).toBeGreaterThan(RESULT_BUDGET.outputTailBytes / 2);
      // The end of the output is kept, marked as cut: U+FFFD for each byte that was not UTF-8.
      expect(tail.toString("utf8")).toMatch(/^\[… \d+ bytes cut …\]\n\uFFFD+$/);
    }
    expect(queryDb(c.stateDir, "SELECT status FROM tasks")).toEqual([{ status: "failed" }]);

    // Registered once, and never dropped its stream: no reconnect loop.
    expect(c.stderr().match(/"msg":"agent registered"/g)).toHaveLength(1);
    expect(agent.stderr()).not.toContain("not connected to coordinator; retrying");

    const quiet = await runWithin("quiet.plan.yaml");
    expect(quiet.exitCode, quiet.stderr).toBe(2); // passed, but the agent shares the coordinator's host
    expect(queryDb(c.stateDir, "SELECT t.status FROM tasks t JOIN runs r ON r.id = t.run_id ORDER BY r.created_at")).toEqual([{ status: "failed" }, { status: "passed" }]);
    expect(c.stderr().match(/"msg":"agent registered"/g)).toHaveLength(1);
  }, 120_000);
});
