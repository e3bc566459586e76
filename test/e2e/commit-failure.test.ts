// A commit that fails (disk full, I/O error) must never leave a gap behind a pass. The coordinator
// runs in this process (real gRPC, real SQLite) so that one event's commit can be made to fail
// exactly once; the agent is a real process that keeps its spool and sends the event again.
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { coord, onlineNodes, startAgent, waitFor } from "../../scripts/local-fleet.js";
import { caCertPath } from "../../coordinator/tls/paths.js";
import { RunEngine } from "../../coordinator/sequencer/engine.js";
import { startCoordinator, type RunningCoordinator } from "../../coordinator/server/serve.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const CHECKS = 6;
const SUITE = `suite: steady\nchecks:\n${Array.from({ length: CHECKS }, (_, i) => `  - id: c${i}\n    command: { argv: ["true"] }\n`).join("")}`;
const PLAN = fleetPlan("steady", "steady.suite.yaml", 2);

describe("an event whose commit fails", () => {
  const ws = new Workspace();
  const logs: string[] = [];
  let server: RunningCoordinator;
  const c = { address: "", stateDir: ws.path("state") };

  beforeAll(async () => {
    ws.write("steady.suite.yaml", SUITE);
    ws.write("plan.yaml", PLAN);
    const sink = new Writable({ write: (chunk, _enc, done) => (logs.push(String(chunk)), done()) });
    server = await startCoordinator({ listen: "127.0.0.1:0", stateDir: c.stateDir, lostAfterMs: 60_000, heartbeatIntervalMs: 1_000, log: pino({ level: "info" }, sink), minFreeBytes: 0 });
    c.address = server.address;
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "fleet" }, caFile: caCertPath(c.stateDir) }));
    await waitFor("agent online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await Promise.all(ws.procs.map((p) => p.stop("SIGKILL")));
    await server.stop();
    await ws.cleanup();
  });

  it("is not acked and nothing after it is taken from that stream; the agent sends it again and every result lands once", async () => {
    // The second check result of the run fails to commit, as SQLITE_FULL would: in its batch and
    // alone, until the coordinator has given up on the stream; later ones (and its resend) go through.
    const ingestBatch = RunEngine.prototype.ingestBatch;
    let checks = 0;
    let poisoned: bigint | undefined;
    vi.spyOn(RunEngine.prototype, "ingestBatch").mockImplementation(function (this: RunEngine, events) {
      for (const { event } of events) if (poisoned === undefined && event.body.case === "check" && ++checks === 2) poisoned = event.seq;
      const givenUp = logs.join("").includes("event not committed");
      if (!givenUp && events.some(({ event }) => event.seq === poisoned)) throw Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
      return ingestBatch.call(this, events);
    });

    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    expect(run.stderr).not.toMatch(/refus/);
    expect(logs.join("")).toContain("event not committed");

    const tasks = queryDb<{ id: string; status: string }>(c.stateDir, "SELECT id, status FROM tasks ORDER BY iteration");
    expect(tasks.map((t) => t.status)).toEqual(["passed", "passed"]);
    for (const t of tasks) {
      const [rows] = queryDb<{ n: number; checks: number }>(c.stateDir, "SELECT COUNT(*) AS n, COUNT(DISTINCT check_id) AS checks FROM check_results WHERE task_id = ?", t.id);
      expect(rows, t.id).toEqual({ n: CHECKS, checks: CHECKS });
    }
  }, 90_000);
});
