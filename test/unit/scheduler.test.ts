// Schedules (coordinator/schedules/) against the store (SQLite and PostgreSQL), the real RunEngine and StartRun,
// with in-process sessions standing in for the agents and an injected clock: a schedule fires when
// the clock reaches croner's next time (no sleeping), starts a normal run marked with its name,
// never overlaps a run of its plan, never puts a second task on a busy node, and a bound ends its
// run INCOMPLETE with the reason, never GO.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Alerts } from "../../coordinator/alerts/alerts.js";
import { formatRunList } from "../../coordinator/cli/format.js";
import { loadServeConfig } from "../../coordinator/cli/serve-config.js";
import { checkServeConfig } from "../../coordinator/cli/config-command.js";
import { startRunRequest } from "../../coordinator/cli/run-flags.js";
import { loadPlanFiles } from "../../coordinator/cli/run-command.js";
import { AgentSessions } from "../../coordinator/fleet/sessions.js";
import { judgeStored, summarizeStored } from "../../coordinator/judgement/stored.js";
import { startRun, type StartRunDeps } from "../../coordinator/runs/start-run.js";
import type { SchedulerClock } from "../../coordinator/schedules/clock.js";
import { scheduleDefs, type ScheduleDef } from "../../coordinator/schedules/config.js";
import { Scheduler } from "../../coordinator/schedules/scheduler.js";
import { RunEngine, type IncomingEvent } from "../../coordinator/sequencer/engine.js";
import type { Db } from "../../coordinator/store/db.js";
import { upsertNode } from "../../coordinator/store/nodes.js";
import { AgentEventSchema, type Task } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { NodeIdentitySchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { StartRunRequestSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status } from "../../shared/model/status.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const quiet = pino({ level: "silent" });
const MACHINES: Record<string, string> = { n1: "11111111111111111111111111111111", n2: "22222222222222222222222222222222" };
const SUITE = "suite: s\nchecks:\n  - id: a\n    command: { argv: [\"true\"] }\n  - id: b\n    command: { argv: [\"true\"] }\n";
const plan = (name: string) => `plan: ${name}\nstages:\n  - id: fleet\n    kind: fleet\n    suite: s.yaml\n    nodes: { role: fleet }\n`;
const T0 = Date.parse("2026-11-29T02:59:00Z");
const DAY = 86_400_000;

/** Timers fire only when the test moves the clock past them. */
class FakeClock implements SchedulerClock {
  private timers: { at: number; fn: () => void; done: boolean }[] = [];
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void) {
    const timer = { at: this.t + ms, fn, done: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.done = true) };
  }
  advanceTo(t: number): void {
    for (;;) {
      const due = this.timers.filter((x) => !x.done && x.at <= t).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = due.at;
      due.done = true;
      due.fn();
    }
    this.t = t;
  }
}

let dir: string;
let db: Db;
let sessions: AgentSessions;
let engine: RunEngine;
let sent: Task[];
let clock: FakeClock;
let alerts: Alerts;
let scheduler: Scheduler | undefined;
let seq = 0;

function deps(): StartRunDeps {
  return { db, sessions, engine, ownHost: { machineId: "", bootId: "" }, transport: "plaintext" };
}

function schedule(over: Partial<{ cron: string; max_duration: string; max_checks: number }> = {}): ScheduleDef {
  const [def] = scheduleDefs([{ name: "nightly", plan: "nightly.plan.yaml", stages: ["all"], cron: "0 3 * * *", timezone: "UTC", max_duration: "2h", max_checks: 5000, mode: "full", ...over }], dir);
  return def!;
}

function startScheduler(def: ScheduleDef): Scheduler {
  scheduler = new Scheduler({ schedules: [def], start: deps(), clock, alerts, log: quiet });
  scheduler.start();
  return scheduler;
}

const runs = () => db.prepare("SELECT id, plan_name, schedule, status FROM runs ORDER BY created_at, rowid").all() as { id: string; plan_name: string; schedule: string; status: string }[];
const fires = () => db.prepare("SELECT schedule, due_at, run_id, skip_reason, bound FROM schedule_fires ORDER BY id").all() as { schedule: string; due_at: number; run_id: string; skip_reason: string; bound: string }[];
const tasksOf = (runId: string) => db.prepare("SELECT id, node_name AS node FROM tasks WHERE run_id = ? ORDER BY ordinal").all(runId) as { id: string; node: string }[];

function event(node: string, body: MessageInitShape<typeof AgentEventSchema>["body"]): IncomingEvent {
  return { node, machineId: MACHINES[node]!, event: create(AgentEventSchema, { seq: BigInt(++seq), origin: { machineId: MACHINES[node]!, bootId: "boot", hostname: node }, body }) };
}
const checkEvent = (node: string, taskId: string, checkId: string) => event(node, { case: "check", value: { taskId, result: { checkId, kind: "command", status: Status.PASSED, summary: "exit 0", attempts: 1 } } });
const doneEvent = (node: string, taskId: string) => event(node, { case: "taskDone", value: { taskId, status: Status.PASSED, summary: "2/2 passed" } });

/** Every task of the run passes both its checks, each event in its own transaction. */
function passAll(runId: string): void {
  for (const t of tasksOf(runId)) {
    engine.ingestBatch([checkEvent(t.node, t.id, "a")]);
    engine.ingestBatch([checkEvent(t.node, t.id, "b")]);
    engine.ingestBatch([doneEvent(t.node, t.id)]);
  }
}

describe.each(STORE_ENGINES)("schedules (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-schedules-"));
    writeFileSync(join(dir, "s.yaml"), SUITE);
    writeFileSync(join(dir, "nightly.plan.yaml"), plan("nightly-plan"));
    writeFileSync(join(dir, "other.plan.yaml"), plan("other-plan"));
    db = await store.open();
    sent = [];
    sessions = new AgentSessions();
    for (const node of Object.keys(MACHINES)) {
      upsertNode(db, create(NodeIdentitySchema, { name: node, machineId: MACHINES[node]!, bootId: "boot", hostname: node, labels: { role: "fleet" } }), "x");
      sessions.add({ node, machineId: MACHINES[node]!, bootId: "boot", address: "127.0.0.1", send: (t) => sent.push(t), cancel: () => {}, close: () => {} });
    }
    engine = new RunEngine(db, sessions, quiet, {});
    engine.start();
    clock = new FakeClock(T0);
    alerts = new Alerts({ stateDir: dir, log: quiet, now: () => clock.now() });
  });

  afterEach(() => {
    scheduler?.stop();
    scheduler = undefined;
    engine.stop();
    sessions.closeAll("test over");
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe("a schedule", () => {
    it("fires when its clock reaches the cron's time and starts a normal run marked with its name", () => {
      const s = startScheduler(schedule());
      clock.advanceTo(Date.parse("2026-11-29T02:59:59.999Z"));
      expect(runs()).toEqual([]);
      clock.advanceTo(Date.parse("2026-11-29T03:00:00Z"));
      const [run] = runs();
      expect(run).toMatchObject({ plan_name: "nightly-plan", schedule: "nightly", status: "running" });
      expect(fires()).toEqual([{ schedule: "nightly", due_at: Date.parse("2026-11-29T03:00:00Z"), run_id: run!.id, skip_reason: "", bound: "" }]);
      // A normal run: its tasks went to the agents, and coord runs lists it with the schedule's name.
      expect(sent.map((t) => t.runId)).toEqual([run!.id, run!.id]);
      const summary = summarizeStored(db, run!.id)!;
      expect(summary.schedule).toBe("nightly");
      expect(formatRunList([summary]).split("\n")[1]).toMatch(new RegExp(`^${run!.id}\\s+nightly-plan\\s+nightly\\s+fleet\\s`));
      expect(s.nextFireAt(s.schedules[0]!)).toBe(Date.parse("2026-11-30T03:00:00Z"));
    });

    it("reads the cron in its time zone", () => {
      const [berlin] = scheduleDefs([{ name: "b", plan: "nightly.plan.yaml", stages: ["all"], cron: "0 3 * * *", timezone: "Europe/Berlin", max_duration: "2h", max_checks: 10, mode: "full" }], dir);
      const s = startScheduler(berlin!);
      // 03:00 in Berlin in winter is 02:00 UTC: already past at T0, so the next is tomorrow's.
      expect(s.nextFireAt(berlin!)).toBe(Date.parse("2026-11-30T02:00:00Z"));
    });

    it("skips a fire while a run of its plan is still running, and records why", () => {
      startScheduler(schedule({ max_duration: "48h" }));
      clock.advanceTo(Date.parse("2026-11-29T03:00:00Z"));
      const [first] = runs();
      clock.advanceTo(Date.parse("2026-11-30T03:00:00Z"));
      expect(runs()).toHaveLength(1);
      expect(fires()[1]).toMatchObject({ run_id: "", skip_reason: `run ${first!.id} of plan nightly-plan is still running; a scheduled run never overlaps a run of its plan` });
      // Once it is over, the next fire runs again.
      passAll(first!.id);
      clock.advanceTo(Date.parse("2026-12-01T03:00:00Z"));
      expect(runs().map((r) => r.schedule)).toEqual(["nightly", "nightly"]);
    });

    it("never puts a second task on a node with work in another run: the fire is skipped, naming the node", () => {
      const other = startRun(deps(), create(StartRunRequestSchema, startRunRequest(["all"], { plan: join(dir, "other.plan.yaml"), node: ["n2"] }, loadPlanFiles(join(dir, "other.plan.yaml")))));
      startScheduler(schedule());
      clock.advanceTo(Date.parse("2026-11-29T03:00:00Z"));
      expect(runs().map((r) => r.plan_name)).toEqual(["other-plan"]);
      expect(fires()[0]!.skip_reason).toBe(`node n2 (run ${other.runId}) still has work in another run; a scheduled run never puts a second task on a node`);
      // Each node got exactly one task: the other run's.
      expect(sent.map((t) => t.runId)).toEqual([other.runId]);
      passAll(other.runId);
      clock.advanceTo(Date.parse("2026-11-30T03:00:00Z"));
      expect(runs().map((r) => r.schedule)).toEqual(["", "nightly"]);
    });

    it("ends its run INCOMPLETE with the reason when max_checks is reached, even with every check passing", () => {
      startScheduler(schedule({ max_checks: 3 }));
      clock.advanceTo(Date.parse("2026-11-29T03:00:00Z"));
      const [run] = runs();
      passAll(run!.id);
      expect(runs()[0]!.status).toBe("cancelled");
      expect(fires()[0]!.bound).toBe("max_checks 3 reached");
      const { judgement } = judgeStored(db, run!.id);
      expect(judgement.decision).toBe("INCOMPLETE");
      expect(judgement.reasons.join("\n")).toContain("cancelled: schedule nightly hit its bound, max_checks 3 reached");
      const [alert] = alerts.list();
      expect(alert).toMatchObject({ kind: "scheduled_run_incomplete", subject: "nightly", state: "open" });
      expect(alert!.summary).toContain("max_checks 3 reached");
    });

    it("is never GO when the bound is reached by a result committed with the run's last one", () => {
      startScheduler(schedule({ max_checks: 4 }));
      clock.advanceTo(Date.parse("2026-11-29T03:00:00Z"));
      const [run] = runs();
      // One batch: the fourth check and the last task's end commit together, so there is nothing left to cancel.
      engine.ingestBatch(tasksOf(run!.id).flatMap((t) => [checkEvent(t.node, t.id, "a"), checkEvent(t.node, t.id, "b"), doneEvent(t.node, t.id)]));
      expect(runs()[0]!.status).toBe("passed");
      const { judgement } = judgeStored(db, run!.id);
      expect(judgement.decision).toBe("INCOMPLETE");
      expect(judgement.reasons).toContain("not valid for sign-off: schedule nightly hit its bound, max_checks 4 reached");
    });

    it("ends its run INCOMPLETE with the reason when max_duration passes, and a later GO run resolves the alert", () => {
      startScheduler(schedule({ max_duration: "2h", max_checks: 100 }));
      clock.advanceTo(Date.parse("2026-11-29T03:00:00Z"));
      const [run] = runs();
      clock.advanceTo(Date.parse("2026-11-29T04:59:59Z"));
      expect(runs()[0]!.status).toBe("running");
      clock.advanceTo(Date.parse("2026-11-29T05:00:00Z"));
      expect(runs()[0]!.status).toBe("cancelled");
      const { judgement } = judgeStored(db, run!.id);
      expect(judgement.decision).toBe("INCOMPLETE");
      expect(judgement.reasons.join("\n")).toContain("max_duration 2h reached");
      expect(alerts.list().map((a) => [a.kind, a.state])).toEqual([["scheduled_run_incomplete", "open"]]);

      clock.advanceTo(Date.parse("2026-11-30T03:00:00Z"));
      const next = runs()[1]!;
      passAll(next.id);
      expect(judgeStored(db, next.id).judgement.decision).toBe("GO");
      expect(alerts.list().map((a) => [a.kind, a.state, a.resolvedSummary])).toEqual([["scheduled_run_incomplete", "resolved", `scheduled run ${next.id} of nightly-plan ended GO`]]);
    });

    it("keeps a running scheduled run's max_duration across a coordinator restart, counted from the run's start", () => {
      startScheduler(schedule({ max_duration: "2h", max_checks: 100 }));
      clock.advanceTo(Date.parse("2026-11-29T03:00:00Z"));
      const [run] = runs();
      // The coordinator stops an hour in; a new scheduler (the next process) finds the run running.
      scheduler!.stop();
      clock.advanceTo(Date.parse("2026-11-29T04:00:00Z"));
      startScheduler(schedule({ max_duration: "2h", max_checks: 100 }));
      clock.advanceTo(Date.parse("2026-11-29T04:59:59Z"));
      expect(runs()[0]!.status).toBe("running");
      clock.advanceTo(Date.parse("2026-11-29T05:00:00Z"));
      expect(runs()[0]!.status).toBe("cancelled");
      expect(judgeStored(db, run!.id).judgement.decision).toBe("INCOMPLETE");
    });

    it("records a plan it cannot read as a skip with the reason, and fires again next time", () => {
      startScheduler({ ...schedule(), planPath: join(dir, "missing.plan.yaml") });
      clock.advanceTo(Date.parse("2026-11-29T03:00:00Z"));
      expect(runs()).toEqual([]);
      expect(fires()[0]!.skip_reason).toBe(`could not start: cannot read plan ${join(dir, "missing.plan.yaml")}: ENOENT`);
      clock.advanceTo(Date.parse("2026-11-30T03:00:00Z"));
      expect(fires()).toHaveLength(2);
    });
  });

  describe("schedules in coord.yaml", () => {
    const load = (yaml: string) => {
      const file = join(dir, "coord.yaml");
      writeFileSync(file, yaml);
      return () => loadServeConfig(file);
    };

    it("refuses a schedule without a time zone, naming file, line and field", () => {
      const bad = load("schedules:\n  - name: nightly\n    plan: gate.yaml\n    cron: '0 3 * * *'\n    max_duration: 2h\n    max_checks: 5000\n");
      expect(bad).toThrow(/coord\.yaml:2:\d+ schedules\[0\]\.timezone: required/);
    });

    it("refuses a cron croner does not take and a zone that does not exist", () => {
      expect(load("schedules:\n  - { name: n, plan: g.yaml, cron: '0 3 * *', timezone: UTC, max_duration: 2h, max_checks: 5 }\n")).toThrow(/cron.*not a 5-field cron expression/s);
      expect(load("schedules:\n  - { name: n, plan: g.yaml, cron: '0 3 * * *', timezone: Mars/Olympus, max_duration: 2h, max_checks: 5 }\n")).toThrow(/timezone.*not an IANA time zone/s);
    });

    it("is shown by coord config check: each schedule's next fire in its zone, a plan that cannot be read, the webhooks by origin", () => {
      const file = join(dir, "coord.yaml");
      writeFileSync(
        file,
        `state_dir: ${dir}\nschedules:\n  - { name: nightly, plan: nightly.plan.yaml, cron: '0 3 * * *', timezone: Europe/Berlin, max_duration: 2h, max_checks: 5000 }\n  - { name: weekly, plan: gone.yaml, cron: '30 4 * * 0', timezone: UTC, max_duration: 6h, max_checks: 9 }\nalerts:\n  webhooks:\n    - { url: "https://ntfy.sh/secret-topic", format: ntfy }\n`,
      );
      const report = checkServeConfig({ config: file, san: [] }, {});
      expect(report.problems).toEqual([]);
      expect(report.rows.find((r) => r[0] === "schedules")).toEqual(["schedules", "nightly (0 3 * * * Europe/Berlin), weekly (30 4 * * 0 UTC)", "file (schedules)"]);
      expect(report.rows.find((r) => r[0] === "alerts")).toEqual(["alerts", "files under state_dir/alerts/; ntfy https://ntfy.sh/…; dedup 1h", "file (alerts)"]);
      const notes = report.notes.filter((n) => n.startsWith("schedule "));
      expect(notes[0]).toMatch(/^schedule nightly: next fires \d{4}-\d\d-\d\d 03:00 CES?T \(\d{4}-\d\d-\d\dT0[12]:00:00\.000Z\); all of .*nightly\.plan\.yaml$/);
      expect(notes[1]).toMatch(/^schedule weekly: next fires \d{4}-\d\d-\d\d 04:30 UTC .*gone\.yaml, which cannot be read now \(cannot read plan .*gone\.yaml: ENOENT\): each fire is skipped until it can$/);
    });

    it("takes a valid schedule with its defaults: all stages, full mode", () => {
      const config = load("schedules:\n  - { name: nightly, plan: g.yaml, cron: '0 3 * * *', timezone: UTC, max_duration: 2h, max_checks: 5000 }\n")();
      expect(scheduleDefs(config.schedules, dir)).toEqual([
        { name: "nightly", planPath: join(dir, "g.yaml"), stages: ["all"], cron: "0 3 * * *", timezone: "UTC", maxDurationMs: 7_200_000, maxDuration: "2h", maxChecks: 5000, mode: "full" },
      ]);
    });
  });
});
