// A secret the node knows (an ${env.X} value) must appear in no artifact of a run: the agent
// redacts it before anything is spooled or sent, so every file and log downstream is clean.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { fleetPlan, Workspace } from "./fixtures.js";

const SECRET = "fg-test-secret-7Hq2Zx9w";

// The check prints the secret to stdout and stderr and fails on its stdout, so the secret would be
// in the summary (JUnit <failure> text), both tails and the attempt log.
const SUITE = `
suite: leaky
checks:
  - id: echoes-secret
    command:
      argv: [sh, -c, 'echo "token=\${env.FLEETGATE_TEST_SECRET}"; echo "stderr token=\${env.FLEETGATE_TEST_SECRET}" >&2']
      expect: { stdout: { contains: "token=nothing" } }
  - id: prints-junit
    command:
      argv: [sh, -c, 'printf "<testsuite name=\\"s\\"><testcase name=\\"t-%s\\"><failure message=\\"m-%s\\">%s</failure></testcase></testsuite>" "\${env.FLEETGATE_TEST_SECRET}" "\${env.FLEETGATE_TEST_SECRET}" "\${env.FLEETGATE_TEST_SECRET}"']
      junit: stdout
`;

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe("a secret from the node's environment", () => {
  let ws: Workspace;
  let c: Coordinator;
  let agent: Proc;

  beforeEach(async () => {
    ws = new Workspace();
    ws.write("leaky.suite.yaml", SUITE);
    ws.write("plan.yaml", fleetPlan("leaky", "leaky.suite.yaml"));
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    agent = ws.track(
      startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("agent"), labels: { role: "fleet" }, env: { FLEETGATE_TEST_SECRET: SECRET, FLEETGATE_LOG_LEVEL: "debug" } }),
    );
    await waitFor("the agent online", async () => ((await onlineNodes(c)).length === 1 ? true : undefined));
  });

  afterEach(async () => ws.cleanup());

  it("appears in no artifact of the run: coord.db, the evidence bundle, every report, coord show, both logs, the agent's spool", async () => {
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    expect(run.exitCode, run.stderr).toBe(1);
    const runId = /run (\S+) \(leaky\)/.exec(run.stdout)?.[1] ?? "";
    expect(runId).not.toBe("");

    const reports: Record<string, string> = {};
    for (const format of ["md", "html", "junit", "ctrf", "json"]) {
      const out = ws.path(`report.${format}`);
      const r = await coord(c, ["report", runId, "--format", format, "-o", out]);
      expect(r.exitCode, r.stderr).toBe(0);
      reports[format] = readFileSync(out, "utf8");
    }
    const show = await coord(c, ["show", runId]);
    await waitFor("the evidence bundle", () => (filesUnder(join(c.stateDir, "runs")).some((f) => f.endsWith("manifest.json")) ? true : undefined));
    await agent.stop("SIGTERM");
    await c.stop("SIGTERM");

    const artifacts: [string, Buffer | string][] = [
      ...filesUnder(c.stateDir).map((f): [string, Buffer] => [f, readFileSync(f)]),
      ...filesUnder(ws.path("agent")).map((f): [string, Buffer] => [f, readFileSync(f)]),
      ...Object.entries(reports).map(([f, text]): [string, string] => [`report ${f}`, text]),
      ["coord run stdout", run.stdout + run.stderr],
      ["coord show", show.stdout + show.stderr],
      ["agent log", agent.stderr()],
      ["coordinator log", c.stderr()],
    ];
    expect(filesUnder(join(c.stateDir, "runs", runId)).length).toBeGreaterThan(2);
    expect(artifacts.some(([f]) => f.endsWith("coord.db"))).toBe(true);
    const leaks = artifacts.filter(([, bytes]) => (typeof bytes === "string" ? bytes.includes(SECRET) : bytes.includes(SECRET)));
    expect(leaks.map(([f]) => f)).toEqual([]);
    // The checks really printed it: the redacted text is where the secret was, JUnit <failure> text included.
    expect(run.stdout).toContain('saw "token=***"');
    expect(reports.junit).toMatch(/<failure[^>]*>[^<]*\*\*\*/);
  });
});
