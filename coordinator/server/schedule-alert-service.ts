// ControlService.ListSchedules and ListAlerts (`coord schedules`, `coord alerts`): what the
// scheduler and the alert files say now. Authorized like every other control call.
import { create } from "@bufbuild/protobuf";
import * as pb from "../../shared/gen/fleetgate/v1/control_pb.js";
import { type Alerts, redactUrl } from "../alerts/alerts.js";
import { summarizeStored } from "../judgement/stored.js";
import { zonedTime } from "../schedules/next-fire.js";
import type { Scheduler } from "../schedules/scheduler.js";
import { lastFires } from "../store/schedules.js";
import { bindMethods, unary, type ControlServiceDeps } from "./control-service.js";

export interface ScheduleAlertDeps extends ControlServiceDeps {
  scheduler?: Scheduler;
  alerts: Alerts;
}

function scheduleInfos(deps: ScheduleAlertDeps): pb.ScheduleInfo[] {
  const scheduler = deps.scheduler;
  if (!scheduler) return [];
  return scheduler.schedules.map((s) => {
    const next = scheduler.nextFireAt(s);
    const { run, skip } = lastFires(deps.db, s.name);
    // A run still going is RUNNING: judging it would be thrown away.
    const outcome = !run ? "" : deps.engine.isActive(run.runId) ? "RUNNING" : (summarizeStored(deps.db, run.runId)?.verdict ?? "");
    return create(pb.ScheduleInfoSchema, {
      name: s.name,
      planPath: s.planPath,
      stages: s.stages,
      cron: s.cron,
      timezone: s.timezone,
      maxDuration: s.maxDuration,
      maxChecks: s.maxChecks,
      mode: s.mode,
      nextFireMs: BigInt(next ?? 0),
      nextFireLocal: next === undefined ? "" : zonedTime(new Date(next), s.timezone),
      lastRunId: run?.runId ?? "",
      lastRunAtMs: BigInt(run?.at ?? 0),
      lastRunOutcome: outcome,
      lastRunBound: run?.bound ?? "",
      lastSkipAtMs: BigInt(skip?.at ?? 0),
      lastSkipReason: skip?.skipReason ?? "",
    });
  });
}

function alertInfos(deps: ScheduleAlertDeps, openOnly: boolean): pb.AlertInfo[] {
  return deps.alerts
    .list()
    .filter((a) => !openOnly || a.state === "open")
    .map((a) =>
      create(pb.AlertInfoSchema, {
        id: a.id,
        kind: a.kind,
        subject: a.subject,
        summary: a.summary,
        state: a.state,
        raisedAtMs: BigInt(a.raisedAt),
        resolvedAtMs: BigInt(a.resolvedAt),
        resolvedSummary: a.resolvedSummary,
        repeats: a.repeats,
        deliveries: a.deliveries.map((d) => ({ webhook: redactUrl(d.url), format: d.format, event: d.event, state: d.state, attempts: d.attempts, lastError: d.lastError })),
        detailsJson: JSON.stringify(a.details),
      }),
    );
}

export function scheduleAlertHandlers(deps: ScheduleAlertDeps) {
  return bindMethods({
    listSchedules: unary(deps, (): pb.ListSchedulesResponse => create(pb.ListSchedulesResponseSchema, { schedules: scheduleInfos(deps) })),
    listAlerts: unary(deps, (req: pb.ListAlertsRequest): pb.ListAlertsResponse => create(pb.ListAlertsResponseSchema, { alerts: alertInfos(deps, req.openOnly) })),
  });
}
