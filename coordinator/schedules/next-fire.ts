// When a schedule next comes due, from croner (no cron parsing of our own), and how that time
// reads in the schedule's zone.
import { Cron } from "croner";

/** The first time strictly after `after` that `cron` matches in `timezone`; undefined if never. */
export function nextFire(cron: string, timezone: string, after: Date): Date | undefined {
  const job = new Cron(cron, { paused: true, timezone, mode: "5-part" });
  try {
    return job.nextRun(after) ?? undefined;
  } finally {
    job.stop();
  }
}

/** "2026-11-29 04:00 CET" (the zone's own wall clock and abbreviation). */
export function zonedTime(at: Date, timezone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", { timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
}
