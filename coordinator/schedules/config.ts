// coord.yaml's `schedules:`: named, bounded, time-zoned runs of a plan (the cc-ci nightly full-cold
// sweep, MAX_TESTS-bounded). Validated with the rest of coord.yaml, so a bad cron or time zone is
// refused at start with file:line and the field.
import { isAbsolute, join } from "node:path";
import { Cron } from "croner";
import { z } from "zod";
import { parseDuration } from "../../shared/durations.js";
import { DurationSchema } from "../../shared/model/suite.js";
import { nextFire, zonedTime } from "./next-fire.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** croner's own complaint about a pattern, or undefined when it takes it. */
function cronProblem(pattern: string): string | undefined {
  try {
    new Cron(pattern, { paused: true, mode: "5-part" }).stop();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export const ScheduleSchema = z.strictObject({
  name: z.string().regex(NAME, { message: "use letters, digits, '.', '_' and '-' (at most 63)" }),
  /** The plan file, relative to coord.yaml; its suites relative to it, as coord run reads them. */
  plan: z.string().min(1),
  /** As coord run takes them: all, a stage kind or stage ids. */
  stages: z.array(z.string().min(1)).min(1).default(["all"]),
  /** Five fields: minute hour day-of-month month day-of-week, e.g. "0 3 * * *". */
  cron: z.string().superRefine((p, ctx) => {
    const problem = cronProblem(p);
    if (problem) ctx.addIssue({ code: "custom", message: `not a 5-field cron expression (minute hour day month weekday, e.g. "0 3 * * *"): ${problem}` });
  }),
  /** Required: a nightly run at 03:00 means nothing without saying whose 03:00. */
  timezone: z.string().refine(validTimeZone, {
    message: 'not an IANA time zone; e.g. "UTC", "Europe/Berlin", "America/New_York"',
  }),
  /** Past this long the run is cancelled and ends INCOMPLETE with the reason. */
  max_duration: DurationSchema.refine((d) => parseDuration(d) > 0, { message: "must be more than 0" }),
  /** Past this many check results the run is cancelled and ends INCOMPLETE with the reason. */
  max_checks: z.number().int().positive(),
  mode: z.enum(["full", "quick"]).default("full"),
});

export const SchedulesSchema = z.array(ScheduleSchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((s, i) => {
    if (seen.has(s.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `schedule ${s.name} is named twice; names identify schedules in coord schedules and in each run` });
    seen.add(s.name);
  });
});

export type ScheduleConfig = z.infer<typeof ScheduleSchema>;

/** A schedule as the scheduler takes it: the plan path resolved, durations in ms. */
export interface ScheduleDef {
  name: string;
  planPath: string;
  stages: string[];
  cron: string;
  timezone: string;
  maxDurationMs: number;
  maxChecks: number;
  mode: "full" | "quick";
  /** As written in coord.yaml, for coord schedules. */
  maxDuration: string;
}

/** coord.yaml's schedules as the scheduler takes them; plan paths are relative to coord.yaml. */
export function scheduleDefs(list: ScheduleConfig[] | undefined, configDir: string): ScheduleDef[] {
  return (list ?? []).map((s) => ({
    name: s.name,
    planPath: isAbsolute(s.plan) ? s.plan : join(configDir, s.plan),
    stages: s.stages,
    cron: s.cron,
    timezone: s.timezone,
    maxDurationMs: parseDuration(s.max_duration),
    maxDuration: s.max_duration,
    maxChecks: s.max_checks,
    mode: s.mode,
  }));
}

/** What `coord config check` says of each schedule: when it fires next, or why it cannot start a run. */
export function scheduleNotes(defs: ScheduleDef[], now: number, planProblem: (path: string) => string | undefined): string[] {
  return defs.map((s) => {
    const next = nextFire(s.cron, s.timezone, new Date(now));
    const when = next ? `next fires ${zonedTime(next, s.timezone)} (${next.toISOString()})` : "never fires again (the cron matches no future time)";
    const problem = planProblem(s.planPath);
    return `schedule ${s.name}: ${when}; ${s.stages.join(",")} of ${s.planPath}${problem ? `, which cannot be read now (${problem}): each fire is skipped until it can` : ""}`;
  });
}
