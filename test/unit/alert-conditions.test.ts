// Where alerts come from (coordinator/alerts/conditions.ts), against the store (SQLite and PostgreSQL), the real
// RunEngine and StartRun, and real alert files: a NO-GO run, a regression from the plan's
// signed-off (known-good) run, a node offline past the grace or lost, and a low evidence disk each
// raise one alert, resolved when the condition clears.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Alerts } from "../../coordinator/alerts/alerts.js";
import { alertOnNodes, alertOnRunEnd, checkEvidenceDisk } from "../../coordinator/alerts/conditions.js";
import type { JudgedRun } from "../../coordinator/judgement/stored.js";
import { loadPlanFiles } from "../../coordinator/cli/run-command.js";
import { startRunRequest } from "../../coordinator/cli/run-flags.js";
import { AgentSessions } from "../../coordinator/fleet/sessions.js";
import { signOff } from "../../coordinator/runs/sign-off.js";
import { startRun } from "../../coordinator/runs/start-run.js";
import { RunEngine } from "../../coordinator/sequencer/engine.js";
import type { Db } from "../../coordinator/store/db.js";
import { upsertNode } from "../../coordinator/store/nodes.js";
import { AgentEventSchema } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { NodeIdentitySchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { StartRunRequestSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status } from "../../shared/model/status.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const quiet = pino({ level: "silent" });
const MACHINE = "33333333333333333333333333333333";
const SUITE = 'suite: s\nchecks:\n  - id: a\n    command: { argv: ["true"] }\n  - id: b\n    command: { argv: ["true"] }\n';
const PLAN = "plan: gate\nstages:\n  - id: fleet\n    kind: fleet\n    suite: s.yaml\n    nodes: { role: fleet }\n";

let dir: string;
let db: Db;
let sessions: AgentSessions;
let engine: RunEngine;
let alerts: Alerts;
let seq = 0;

describe.each(STORE_ENGINES)("alert conditions (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-alert-conditions-"));
    writeFileSync(join(dir, "s.yaml"), SUITE);
    writeFileSync(join(dir, "plan.yaml"), PLAN);
    db = await store.open();
    sessions = new AgentSessions();
    upsertNode(db, create(NodeIdentitySchema, { name: "n1", machineId: MACHINE, bootId: "boot", hostname: "n1", labels: { role: "fleet" } }), "x");
    sessions.add({ node: "n1", machineId: MACHINE, bootId: "boot", address: "127.0.0.1", send: () => {}, cancel: () => {}, close: () => {} });
    alerts = new Alerts({ stateDir: dir, log: quiet });
    // As the coordinator wires it: the engine hands over the run it judged for its summary.
    engine = new RunEngine(db, sessions, quiet, { onFinished: (id, judged) => alertOnRunEnd(db, alerts, id, judged) });
    engine.start();
  });

  afterEach(() => {
    engine.stop();
    sessions.closeAll("test over");
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A run of the plan on n1 where check `b` ends `b`; returns its id once it has finished. `origin`: the rollout phase it carries out. */
  function runWith(b: Status, origin?: Parameters<typeof startRun>[2]): string {
    const req = create(StartRunRequestSchema, startRunRequest(["all"], { plan: join(dir, "plan.yaml"), node: [] }, loadPlanFiles(join(dir, "plan.yaml"))));
    const { runId } = startRun({ db, sessions, engine, ownHost: { machineId: "", bootId: "" }, transport: "plaintext" }, req, origin);
    const taskId = (db.prepare("SELECT id FROM tasks WHERE run_id = ?").get(runId) as { id: string }).id;
    const ev = (body: MessageInitShape<typeof AgentEventSchema>["body"]) => engine.ingest("n1", MACHINE, create(AgentEventSchema, { seq: BigInt(++seq), origin: { machineId: MACHINE, bootId: "boot", hostname: "n1" }, body }));
    ev({ case: "check", value: { taskId, result: { checkId: "a", kind: "command", status: Status.PASSED, summary: "exit 0", attempts: 1 } } });
    ev({ case: "check", value: { taskId, result: { checkId: "b", kind: "command", status: b, summary: b === Status.PASSED ? "exit 0" : "expected exit 0, saw 1", attempts: 1 } } });
    ev({ case: "taskDone", value: { taskId, status: b, summary: "done" } });
    return runId;
  }

  const state = () => alerts.list().map((a) => `${a.state} ${a.kind} ${a.subject}`);

  describe("alerts from runs", () => {
    it("raises run_no_go on a NO-GO run and a known-good regression against the signed-off run; the next GO run resolves both", () => {
      const good = runWith(Status.PASSED);
      signOff(db, { runId: good, by: "ana", accept: [] }, Date.now());
      expect(state()).toEqual([]);

      const bad = runWith(Status.FAILED);
      expect(state().sort()).toEqual(["open known_good_regression gate", "open run_no_go gate"]);
      const regression = alerts.list().find((a) => a.kind === "known_good_regression")!;
      expect(regression.summary).toBe(`1 check(s) passed in known-good run ${good} and fail in run ${bad}, e.g. b on n1 in fleet; see: coord diff ${good} ${bad}`);
      // The same failure again is the same open alert, counted.
      runWith(Status.FAILED);
      expect(alerts.list().filter((a) => a.state === "open").map((a) => a.repeats)).toEqual([1, 1]);

      // The fix ships as a new revision of the suite: within one revision, pass-fail-pass is a flake (NO-GO).
      writeFileSync(join(dir, "s.yaml"), `${SUITE}# b fixed\n`);
      const fixed = runWith(Status.PASSED);
      expect(state().sort()).toEqual(["resolved known_good_regression gate", "resolved run_no_go gate"]);
      expect(alerts.list().find((a) => a.kind === "run_no_go")!.resolvedSummary).toBe(`run ${fixed} of plan gate is GO`);
    });
  });

  describe("judging a run's end", () => {
    it("is handed the run the engine judged for its summary, and reaches the same alerts reading the run itself", () => {
      const handed: (JudgedRun | undefined)[] = [];
      engine.stop();
      engine = new RunEngine(db, sessions, quiet, { onFinished: (_id, judged) => handed.push(judged) });
      engine.start();
      const bad = runWith(Status.FAILED);
      expect(handed.map((j) => [j?.run.runId, j?.judgement.decision])).toEqual([[bad, "NO-GO"]]);
      alertOnRunEnd(db, alerts, bad, handed[0]);
      const fromHanded = alerts.list().map((a) => [a.state, a.kind, a.subject, a.summary]);
      alerts = new Alerts({ stateDir: mkdtempSync(join(dir, "again-")), log: quiet });
      alertOnRunEnd(db, alerts, bad);
      expect(alerts.list().map((a) => [a.state, a.kind, a.subject, a.summary])).toEqual(fromHanded);
      expect(fromHanded).toEqual([["open", "run_no_go", "gate", expect.stringContaining(`run ${bad} of plan gate is NO-GO: `)]]);
    });
  });

  describe("alerts from rollout phases", () => {
    it("leaves a rollout's phase runs to the rollout: a red gate phase raises no run_no_go (the rollout raises its own)", () => {
      runWith(Status.FAILED, { rollout: "ro-1", node: "n1", phase: "gate" });
      expect(state()).toEqual([]);
      // An ordinary run of the same plan still does.
      runWith(Status.FAILED);
      expect(state()).toEqual(["open run_no_go gate"]);
    });
  });

  describe("alerts from the fleet and the disk", () => {
    it("alerts a node offline only past the grace, a lost node at once, and resolves both when it is back", () => {
      vi.useFakeTimers();
      try {
        const fleet = new AgentSessions(60_000);
        const off = alertOnNodes(fleet, alerts, 25_000);
        const s = { node: "n2", machineId: MACHINE, bootId: "boot", address: "127.0.0.1", send: () => {}, cancel: () => {}, close: () => {} };
        fleet.add(s);
        fleet.remove(s, "link dropped");
        vi.advanceTimersByTime(10_000);
        // A flapping link back within the grace is no alert.
        fleet.add(s);
        fleet.remove(s, "link dropped");
        vi.advanceTimersByTime(24_999);
        expect(state()).toEqual([]);
        vi.advanceTimersByTime(1);
        expect(state()).toEqual(["open node_offline n2"]);
        fleet.emit("lost", "n2", "node n2 lost: not heard from for 60 s");
        expect(state().sort()).toEqual(["open node_lost n2", "open node_offline n2"]);
        fleet.add(s);
        expect(state().sort()).toEqual(["resolved node_lost n2", "resolved node_offline n2"]);
        off();
        fleet.closeAll("test over");
      } finally {
        vi.useRealTimers();
      }
    });

    it("raises evidence_disk_low below the minimum free space and resolves it once there is enough", () => {
      let free = 10 * 1024 * 1024;
      const probe = () => free;
      checkEvidenceDisk(alerts, dir, 256 * 1024 * 1024, quiet, probe);
      expect(alerts.list().map((a) => [a.state, a.kind, a.subject, a.summary])).toEqual([["open", "evidence_disk_low", dir, `only 10 MiB free under ${dir}; need 256 MiB: prune old runs with coord prune, or free space`]]);
      free = 300 * 1024 * 1024;
      checkEvidenceDisk(alerts, dir, 256 * 1024 * 1024, quiet, probe);
      expect(state()).toEqual([`resolved evidence_disk_low ${dir}`]);
    });
  });
});
