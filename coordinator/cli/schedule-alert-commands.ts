// `coord schedules` and `coord alerts`: what coord.yaml's schedules will do next and did last, and
// the alerts kept under the coordinator's STATE_DIR/alerts/ with how their webhooks took them.
import { toJson } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { AlertInfoSchema, ControlService, ScheduleInfoSchema, type AlertInfo, type ScheduleInfo } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { humanDuration } from "../../shared/durations.js";
import { table } from "./format.js";
import { connected, print, withClient, type ConnectionFlags } from "./kit.js";

const iso = (ms: bigint) => new Date(Number(ms)).toISOString().replace(/:\d\d\.\d{3}Z$/, "Z");

/** Pure: one block per schedule (the reasons are too long for a table). */
export function formatSchedules(list: ScheduleInfo[]): string {
  if (!list.length) return "no schedules; add them to coord.yaml under schedules: (see the README, Schedules and alerts)";
  return list
    .map((s) => {
      const next = s.nextFireMs ? `${s.nextFireLocal} (${iso(s.nextFireMs)})` : "never (the cron matches no future time)";
      const last = s.lastRunId ? `${s.lastRunId} at ${iso(s.lastRunAtMs)}: ${s.lastRunOutcome}${s.lastRunBound ? ` (bound: ${s.lastRunBound})` : ""}` : "none yet";
      const skip = s.lastSkipReason ? `${iso(s.lastSkipAtMs)}: ${s.lastSkipReason}` : "none";
      return [
        `${s.name}: ${s.stages.join(",")} of ${s.planPath}, ${s.mode}, cron "${s.cron}" in ${s.timezone}`,
        `  bounds:    max_duration ${s.maxDuration}, max_checks ${s.maxChecks}`,
        `  next fire: ${next}`,
        `  last run:  ${last}`,
        `  last skip: ${skip}`,
      ].join("\n");
    })
    .join("\n\n");
}

/** "delivered", "failed after 6 (HTTP 500)", per webhook and event; "-" with no webhook. */
function deliveryText(a: AlertInfo): string {
  if (!a.deliveries.length) return "-";
  return a.deliveries
    .map((d) => `${d.event === "resolved" ? "resolved " : ""}${d.state}${d.state === "delivered" ? "" : ` after ${d.attempts}${d.lastError ? ` (${d.lastError})` : ""}`} ${d.webhook}`)
    .join("; ");
}

/** Pure: open alerts first, then resolved ones (the coordinator's order). */
export function formatAlerts(list: AlertInfo[], now: number): string {
  if (!list.length) return "no alerts";
  const rows = [["STATE", "KIND", "SUBJECT", "SINCE", "REPEATS", "WEBHOOKS", "SUMMARY"]];
  for (const a of list) {
    const since = a.state === "open" ? `${humanDuration(now - Number(a.raisedAtMs))} ago` : `resolved ${humanDuration(now - Number(a.resolvedAtMs))} ago`;
    rows.push([a.state, a.kind, a.subject, since, String(a.repeats), deliveryText(a), (a.state === "open" ? a.summary : a.resolvedSummary || a.summary).replace(/\s+/g, " ")]);
  }
  return table(rows);
}

export function registerScheduleAlertCommands(program: Command): void {
  connected(program.command("schedules").description("coord.yaml's schedules: next fire time (in its time zone and UTC), last run and its outcome, last skip and why"))
    .option("--json", "print JSON")
    .action(async (flags: ConnectionFlags & { json?: boolean }) => {
      const res = await withClient(flags, (c) => c.call(ControlService.method.listSchedules, {}));
      print(flags.json ? JSON.stringify(res.schedules.map((x) => toJson(ScheduleInfoSchema, x)), null, 2) : formatSchedules(res.schedules));
    });

  connected(program.command("alerts").description("alerts kept under STATE_DIR/alerts/: open ones first, then resolved; kind, subject, since when, and each webhook's delivery"))
    .option("--open", "only open alerts")
    .option("--json", "print JSON")
    .action(async (flags: ConnectionFlags & { open?: boolean; json?: boolean }) => {
      const res = await withClient(flags, (c) => c.call(ControlService.method.listAlerts, { openOnly: flags.open ?? false }));
      print(flags.json ? JSON.stringify(res.alerts.map((x) => toJson(AlertInfoSchema, x)), null, 2) : formatAlerts(res.alerts, Date.now()));
    });
}
