// Runs coord.yaml's schedules inside `coord serve`. When a schedule comes due (croner's next time,
// on an injected clock), its plan is read from disk and started as a normal run through StartRun's
// own path (runs/start-run.ts), marked with the schedule's name. A scheduled run:
// - never overlaps a run of the same plan still running: skipped, and the skip kept with its reason;
// - never puts a second task on a node: a node with work left in another running run makes it a
//   skip too (the agent would queue the task behind the other run's, and the bound's clock would
//   run while it waits);
// - is bounded: past max_duration or max_checks it is cancelled the way `coord cancel` cancels,
//   so it ends INCOMPLETE (cancelled tasks are never GO) with the bound as the reason.
import { create } from "@bufbuild/protobuf";
import { StartRunRequestSchema, type RunSummary, type WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logging.js";
import type { AlertSink } from "../alerts/alerts.js";
import { loadPlanFiles } from "../cli/run-command.js";
import { startRunRequest } from "../cli/run-flags.js";
import { DRY_RUN_ID, resolveStartRun } from "../runs/run-request.js";
import { rosterOf, startRun, type StartRunDeps } from "../runs/start-run.js";
import { listNodes } from "../store/nodes.js";
import { addRunFlag } from "../store/runs.js";
import { busyNodes, checkCount, markScheduled, recordBound, recordFire, runningRunsOfPlan, runningScheduledRuns } from "../store/schedules.js";
import type { SchedulerClock, Timer } from "./clock.js";
import type { ScheduleDef } from "./config.js";
import { nextFire, zonedTime } from "./next-fire.js";

export interface SchedulerDeps {
  schedules: ScheduleDef[];
  /** StartRun's own dependencies: a scheduled run is started exactly as coord run's is. */
  start: StartRunDeps;
  clock: SchedulerClock;
  alerts: AlertSink;
  log: Logger;
}

/** What one fire did: the run it started, or why it started none. */
export type FireOutcome = { runId: string } | { skipped: string };

interface Tracked {
  schedule: ScheduleDef;
  checks: number;
  timer: Timer;
  bound?: string;
}

export class Scheduler {
  private readonly timers = new Map<string, Timer>();
  private readonly tracked = new Map<string, Tracked>();
  private readonly onUpdate = (runId: string, update: WatchRunResponse) => this.update(runId, update);
  private stopped = false;

  constructor(private readonly deps: SchedulerDeps) {}

  get schedules(): ScheduleDef[] {
    return this.deps.schedules;
  }

  /** Arms every schedule, and keeps the bounds of scheduled runs a previous process left running. */
  start(): void {
    this.deps.start.engine.updates.on("update", this.onUpdate);
    const byName = new Map(this.deps.schedules.map((s) => [s.name, s]));
    for (const r of runningScheduledRuns(this.deps.start.db)) {
      const s = byName.get(r.schedule);
      if (s) this.track(r.runId, s, r.startedAt);
    }
    for (const s of this.deps.schedules) {
      this.checkPlan(s);
      this.arm(s, this.deps.clock.now());
    }
  }

  /** A plan path with a typo should be known at start, not at 03:00: said now, and skipped then. */
  private checkPlan(s: ScheduleDef): void {
    try {
      loadPlanFiles(s.planPath);
    } catch (err) {
      this.deps.log.warn({ schedule: s.name, plan: s.planPath, err: (err as Error).message }, `schedule ${s.name}: its plan cannot be read now; each fire is skipped until it can`);
    }
  }

  stop(): void {
    this.stopped = true;
    this.deps.start.engine.updates.off("update", this.onUpdate);
    for (const t of this.timers.values()) t.cancel();
    for (const t of this.tracked.values()) t.timer.cancel();
    this.timers.clear();
    this.tracked.clear();
  }

  /** When `s` next comes due after `at` (ms), or undefined when its cron never matches again. */
  nextFireAt(s: ScheduleDef, at = this.deps.clock.now()): number | undefined {
    return nextFire(s.cron, s.timezone, new Date(at))?.getTime();
  }

  private arm(s: ScheduleDef, after: number): void {
    if (this.stopped) return;
    const due = this.nextFireAt(s, after);
    if (due === undefined) {
      this.deps.log.warn({ schedule: s.name, cron: s.cron }, "schedule never comes due again; not armed");
      return;
    }
    this.deps.log.info({ schedule: s.name, next: new Date(due).toISOString(), local: zonedTime(new Date(due), s.timezone) }, `schedule ${s.name} next fires at ${zonedTime(new Date(due), s.timezone)}`);
    this.timers.set(s.name, this.deps.clock.after(Math.max(0, due - this.deps.clock.now()), () => this.fire(s, due)));
  }

  /** The schedule came due at `dueAt`: start its run or record why not, then arm the next time. */
  fire(s: ScheduleDef, dueAt: number): FireOutcome {
    const outcome = this.fireOnce(s, dueAt);
    // From the due time, not from now: croner gives the next time strictly after it, so a timer
    // that fires a moment early never starts the same due time twice.
    this.arm(s, Math.max(dueAt, this.deps.clock.now()));
    return outcome;
  }

  private fireOnce(s: ScheduleDef, dueAt: number): FireOutcome {
    const { db } = this.deps.start;
    const at = this.deps.clock.now();
    const log = this.deps.log.child({ schedule: s.name });
    let skipped: string;
    try {
      const result = this.startScheduled(s);
      if ("runId" in result) {
        recordFire(db, { schedule: s.name, dueAt, at, runId: result.runId });
        log.info({ run: result.runId, plan: s.planPath }, `schedule ${s.name} started run ${result.runId}`);
        return result;
      }
      skipped = result.skipped;
    } catch (err) {
      if (!(err instanceof FleetgateError) || err.code === "internal") log.error({ err }, "scheduled run failed to start");
      skipped = `could not start: ${(err as Error).message}`;
    }
    try {
      recordFire(db, { schedule: s.name, dueAt, at, skipReason: skipped });
    } catch (err) {
      log.error({ err }, "could not record the skip");
    }
    log.warn({ reason: skipped }, `schedule ${s.name} skipped: ${skipped}`);
    return { skipped };
  }

  private startScheduled(s: ScheduleDef): FireOutcome {
    const deps = this.deps.start;
    // Read at each fire, as coord run reads it: an edited plan takes effect at the next fire.
    const files = loadPlanFiles(s.planPath);
    const running = runningRunsOfPlan(deps.db, files.plan.name);
    if (running.length) return { skipped: `run ${running.join(", ")} of plan ${files.plan.name} is still running; a scheduled run never overlaps a run of its plan` };
    const req = create(StartRunRequestSchema, startRunRequest(s.stages, { plan: s.planPath, node: [], quick: s.mode === "quick" }, files));
    // The nodes the run would use, resolved as StartRun resolves them (same roster, same tick).
    const { resolved } = resolveStartRun(req, rosterOf(listNodes(deps.db), deps.sessions), DRY_RUN_ID);
    const busy = busyNodes(deps.db);
    const taken = [...new Set(resolved.tasks.map((t) => t.node))].filter((n) => busy.has(n));
    if (taken.length) {
      const which = taken.map((n) => `${n} (run ${busy.get(n)})`).join(", ");
      return { skipped: `node${taken.length > 1 ? "s" : ""} ${which} still ${taken.length > 1 ? "have" : "has"} work in another run; a scheduled run never puts a second task on a node` };
    }
    const { runId } = startRun(deps, req);
    // Right after the insert, before this tick ends: nothing can read the run in between.
    markScheduled(deps.db, runId, s.name);
    this.track(runId, s, this.deps.clock.now());
    return { runId };
  }

  private track(runId: string, s: ScheduleDef, startedAt: number): void {
    const left = Math.max(0, startedAt + s.maxDurationMs - this.deps.clock.now());
    const timer = this.deps.clock.after(left, () => this.endByBound(runId, `max_duration ${s.maxDuration} reached`));
    this.tracked.set(runId, { schedule: s, checks: checkCount(this.deps.start.db, runId), timer });
  }

  private update(runId: string, update: WatchRunResponse): void {
    const t = this.tracked.get(runId);
    if (!t) return;
    const e = update.event;
    if (e.case === "check") {
      t.checks++;
      if (t.checks >= t.schedule.maxChecks) this.endByBound(runId, `max_checks ${t.schedule.maxChecks} reached`);
    } else if (e.case === "finished") {
      this.finished(runId, t, e.value);
    }
  }

  /**
   * Cancels the run as coord cancel does: what is not finished is cancelled, so it cannot be GO.
   * The run is also marked not valid for sign-off: the bound can be hit by a result committed in
   * the same batch as the run's last one, when there is nothing left to cancel.
   */
  private endByBound(runId: string, bound: string): void {
    const t = this.tracked.get(runId);
    const { engine, db } = this.deps.start;
    if (!t || t.bound || !engine.isActive(runId)) return;
    t.bound = bound;
    const reason = `schedule ${t.schedule.name} hit its bound, ${bound}`;
    this.deps.log.warn({ schedule: t.schedule.name, run: runId, bound }, `${reason}; the run ends INCOMPLETE`);
    try {
      recordBound(db, runId, bound);
      addRunFlag(db, runId, reason);
    } catch (err) {
      this.deps.log.error({ run: runId, err }, "could not record the bound that ended the run");
    }
    engine.cancel(runId, `cancelled: ${reason}`);
  }

  private finished(runId: string, t: Tracked, summary: RunSummary): void {
    t.timer.cancel();
    this.tracked.delete(runId);
    const name = t.schedule.name;
    if (summary.verdict === "INCOMPLETE") {
      const why = t.bound ?? summary.reasons[0] ?? "not every check was verified";
      this.deps.alerts.raise({
        kind: "scheduled_run_incomplete",
        subject: name,
        summary: `scheduled run ${runId} of ${summary.planName} ended INCOMPLETE: ${why}; see: coord show ${runId}`,
        details: { run: runId, plan: summary.planName, schedule: name, bound: t.bound ?? "", reasons: summary.reasons.slice(0, 10) },
      });
    } else {
      // A run that verified everything (GO, or NO-GO, which has its own alert) clears it.
      this.deps.alerts.resolve("scheduled_run_incomplete", name, `scheduled run ${runId} of ${summary.planName} ended ${summary.verdict}`);
    }
  }
}
