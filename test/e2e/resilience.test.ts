import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor } from "../../scripts/local-fleet.js";
import { queryDb, Workspace } from "./fixtures.js";

/** Running, not merely a zombie: PID 1 in some containers never reaps orphans. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

const PLAN = `
plan: p
stages:
  - id: single
    kind: single
    suite: s.suite.yaml
`;

describe("resilience of the agent link", () => {
  let ws: Workspace;
  afterEach(async () => ws.cleanup());

  it("reconnects after the coordinator restarts and runs the next stage", async () => {
    ws = new Workspace();
    ws.write("s.suite.yaml", "suite: s\nchecks:\n  - id: ok\n    command: { argv: [\"true\"] }\n");
    ws.write("plan.yaml", PLAN);
    const first = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(first, ["token", "create"])).stdout.trim();
    const agent = ws.track(startAgent({ name: "n1", address: first.address, token, stateDir: ws.path("n1") }));
    await waitFor("n1 online", async () => ((await onlineNodes(first)).includes("n1") ? true : undefined));

    await first.stop("SIGTERM");
    expect((await coord(first, ["nodes"])).exitCode).toBe(4);
    const second = ws.track(await startCoordinator(ws.path("state"), [], first.address));
    await waitFor("n1 online again", async () => ((await onlineNodes(second)).includes("n1") ? true : undefined), 30_000);

    const run = await coord(second, ["run", "single", "--plan", ws.path("plan.yaml"), "--node", "n1"]);
    // Passed, and INCOMPLETE only because the agent runs on the coordinator's own host.
    expect(run.stdout).toMatch(/single\s+n1\s+\+ 1\/1\s+passed/);
    expect(run.exitCode, run.stderr).toBe(2);
    // The reconnect used the node token saved at enrollment, not the enrollment token again.
    expect(readFileSync(ws.path("n1", "node.token"), "utf8")).toMatch(/^fgn_/);
    expect(agent.stderr()).toMatch(/not connected to coordinator; retrying/);
  });

  it("kills the whole process tree of a command check that outlives its timeout", async () => {
    ws = new Workspace();
    const pidFile = ws.path("grandchild.pid");
    ws.write(
      "s.suite.yaml",
      `suite: s
checks:
  - id: hangs
    command: { argv: [sh, -c, "sleep 300 & echo $! > ${pidFile}; wait"] }
    timeout: 1s
`,
    );
    ws.write("plan.yaml", PLAN);
    const c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    ws.track(startAgent({ name: "n1", address: c.address, token, stateDir: ws.path("n1") }));
    await waitFor("n1 online", async () => ((await onlineNodes(c)).includes("n1") ? true : undefined));

    const run = await coord(c, ["run", "single", "--plan", ws.path("plan.yaml"), "--node", "n1"]);
    expect(run.exitCode).toBe(1);
    const [result] = queryDb<{ summary: string }>(c.stateDir, "SELECT summary FROM check_results WHERE check_id = 'hangs'");
    expect(result?.summary).toBe("timed out after 1000 ms; process group killed");
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(pid).toBeGreaterThan(1);
    await waitFor(`pid ${pid} to be gone`, () => (alive(pid) ? undefined : true), 5000);
  });

  it("exits 4 with the address when no coordinator listens", async () => {
    ws = new Workspace();
    const r = await coord({ address: "127.0.0.1:1", stateDir: ws.dir }, ["--help"]);
    expect(r.exitCode).toBe(0);
    const down = await coord({ address: "127.0.0.1:1", stateDir: ws.dir }, ["runs", "--token", "x"]);
    expect(down.exitCode).toBe(4);
    expect(down.stderr).toContain("coordinator unreachable at 127.0.0.1:1");
  });
});
