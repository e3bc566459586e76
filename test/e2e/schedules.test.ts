// A schedule in coord.yaml fires inside a real `coord serve` and produces a real run on a real
// agent, listed by coord runs and coord schedules, with alert files and webhook POSTs. The only
// test hook is where the scheduler's clock starts (FLEETGATE_TEST_SCHEDULE_NOW, 20 s before the
// cron's time): croner's next time and the start of the run through StartRun are production's.
// The agent runs on the coordinator's own host, so attestation flags the run and it ends
// INCOMPLETE: that raises the scheduled-run alert (and the attestation one).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { queryDb, Workspace } from "./fixtures.js";

const SUITE = `
suite: nightly
checks:
  - id: echo
    command: { argv: [echo, hello], expect: { stdout: hello } }
`;

const PLAN = `
plan: nightly-plan
stages:
  - id: fleet
    kind: fleet
    suite: nightly.suite.yaml
    nodes: { role: fleet }
`;

interface Post {
  kind: string;
  event: string;
  status: number;
}

/** Answers the first two POSTs of each alert event with 500, then 200. */
async function webhookReceiver(): Promise<{ server: Server; url: string; posts: Post[] }> {
  const posts: Post[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const sent = JSON.parse(body) as { event: string; alert: { kind: string } };
      const before = posts.filter((p) => p.kind === sent.alert.kind && p.event === sent.event).length;
      const status = before < 2 ? 500 : 200;
      posts.push({ kind: sent.alert.kind, event: sent.event, status });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, posts };
}

describe("a schedule in coord.yaml", () => {
  let ws: Workspace;
  let c: Coordinator;
  let hook: Awaited<ReturnType<typeof webhookReceiver>>;

  beforeEach(async () => {
    ws = new Workspace();
    hook = await webhookReceiver();
    ws.write("nightly.suite.yaml", SUITE);
    ws.write("plan.yaml", PLAN);
    const config = ws.write(
      "coord.yaml",
      `schedules:
  - name: nightly
    plan: plan.yaml
    stages: [all]
    cron: "0 3 * * *"
    timezone: UTC
    max_duration: 2h
    max_checks: 5000
    mode: full
alerts:
  webhooks:
    - { url: "${hook.url}", format: json }
  dedup_window: 1h
`,
    );
    // Read by the coordinator only (spawned with this process's environment).
    process.env.FLEETGATE_TEST_SCHEDULE_NOW = "2026-11-29T02:59:40Z";
    try {
      c = ws.track(await startCoordinator(ws.path("state"), ["--config", config]));
    } finally {
      delete process.env.FLEETGATE_TEST_SCHEDULE_NOW;
    }
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "fleet" } }));
    await waitFor("the agent online", async () => ((await onlineNodes(c)).length === 1 ? true : undefined));
  });

  afterEach(async () => {
    await ws.cleanup();
    await new Promise((r) => hook.server.close(r));
  });

  it("fires at the cron's time, runs the plan on the agent, lists it, and writes and posts its alerts", async () => {
    const run = await waitFor(
      "the scheduled run to finish",
      () => queryDb<{ id: string; schedule: string; status: string }>(c.stateDir, "SELECT id, schedule, status FROM runs").find((r) => r.status !== "running"),
      60_000,
    );
    expect(run.schedule).toBe("nightly");
    const checks = queryDb<{ check_id: string; status: string }>(c.stateDir, "SELECT check_id, status FROM check_results");
    expect(checks).toEqual([{ check_id: "echo", status: "passed" }]);
    expect(queryDb(c.stateDir, "SELECT schedule, due_at, run_id, skip_reason FROM schedule_fires")).toEqual([
      { schedule: "nightly", due_at: Date.parse("2026-11-29T03:00:00Z"), run_id: run.id, skip_reason: "" },
    ]);
    expect(c.stderr()).toContain("schedule nightly next fires at 2026-11-29 03:00 UTC");

    const runs = await coord(c, ["runs"]);
    expect(runs.stdout).toMatch(new RegExp(`^${run.id}\\s+nightly-plan\\s+nightly\\s+fleet\\s`, "m"));
    const schedules = await coord(c, ["schedules"]);
    expect(schedules.exitCode, schedules.stderr).toBe(0);
    expect(schedules.stdout).toContain("next fire: 2026-11-30 03:00 UTC (2026-11-30T03:00Z)");
    expect(schedules.stdout).toContain(`last run:  ${run.id} at 2026-11-29T03:00Z: INCOMPLETE`);

    // One file per alert under STATE_DIR/alerts/, each delivered once through two 500s.
    const kinds = ["attestation_flag", "scheduled_run_incomplete"];
    const files = await waitFor("the alert files, delivered", () => {
      const list = readdirSync(ws.path("state", "alerts")).filter((f) => f.endsWith(".json")).map((f) => JSON.parse(readFileSync(ws.path("state", "alerts", f), "utf8")) as { kind: string; subject: string; state: string; deliveries: { state: string; attempts: number }[] });
      return list.length === 2 && list.every((a) => a.deliveries[0]?.state === "delivered") ? list : undefined;
    }, 30_000);
    expect(files.map((a) => [a.kind, a.subject, a.state, a.deliveries]).sort()).toEqual([
      ["attestation_flag", "nightly-plan", "open", [expect.objectContaining({ state: "delivered", attempts: 3 })]],
      ["scheduled_run_incomplete", "nightly", "open", [expect.objectContaining({ state: "delivered", attempts: 3 })]],
    ]);
    for (const kind of kinds) expect(hook.posts.filter((p) => p.kind === kind).map((p) => p.status)).toEqual([500, 500, 200]);

    const alerts = await coord(c, ["alerts"]);
    expect(alerts.stdout).toMatch(/^open\s+scheduled_run_incomplete\s+nightly\s+.*delivered http:\/\/127\.0\.0\.1:\d+\/…/m);
  }, 120_000);
});

describe("a node alert from a real coord serve", () => {
  let ws: Workspace;
  let c: Coordinator;
  let hook: Awaited<ReturnType<typeof webhookReceiver>>;

  beforeEach(async () => {
    ws = new Workspace();
    hook = await webhookReceiver();
    const config = ws.write("coord.yaml", `lost_after: 2s\nheartbeat: 1s\nalerts:\n  webhooks:\n    - { url: "${hook.url}", format: json }\n`);
    c = ws.track(await startCoordinator(ws.path("state"), ["--config", config]));
  });

  afterEach(async () => {
    await ws.cleanup();
    await new Promise((r) => hook.server.close(r));
  });

  it("raises node_offline once when an agent stays away past lost_after, and resolves it when the agent is back", async () => {
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    const agent = () => startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "fleet" } });
    const first = ws.track(agent());
    await waitFor("the agent online", async () => ((await onlineNodes(c)).length === 1 ? true : undefined));
    await first.stop("SIGKILL");
    const alertFiles = () => (existsSync(ws.path("state", "alerts")) ? readdirSync(ws.path("state", "alerts")) : []).filter((f) => f.endsWith(".json")).map((f) => JSON.parse(readFileSync(ws.path("state", "alerts", f), "utf8")) as { kind: string; subject: string; state: string; deliveries: { event: string; state: string; attempts: number }[] });
    await waitFor("node_offline delivered", () => alertFiles().find((a) => a.kind === "node_offline" && a.deliveries[0]?.state === "delivered"), 30_000);

    ws.track(agent());
    const resolved = await waitFor("node_offline resolved and delivered", () => alertFiles().find((a) => a.kind === "node_offline" && a.state === "resolved" && a.deliveries[1]?.state === "delivered"), 30_000);
    expect(resolved).toMatchObject({ subject: "node-a", deliveries: [{ event: "raised", state: "delivered", attempts: 3 }, { event: "resolved", state: "delivered", attempts: 3 }] });
    // One alert for the one condition: one file, one raised and one resolved POST delivered.
    expect(alertFiles().filter((a) => a.kind === "node_offline")).toHaveLength(1);
    const delivered = hook.posts.filter((p) => p.kind === "node_offline" && p.status === 200).map((p) => p.event);
    expect(delivered).toEqual(["raised", "resolved"]);
    const listed = await coord(c, ["alerts"]);
    expect(listed.stdout).toMatch(/^resolved\s+node_offline\s+node-a\s+resolved .* ago/m);
  }, 90_000);
});
