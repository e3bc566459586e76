// Who is the active coordinator (issue 19): the decisions of coordinator/ha/election.ts without
// its connection or its clock, so they can be tested alone. The lock decides leadership; the lease
// row only says who holds it and where to find them, and the lease length bounds how long an active
// coordinator that can no longer renew goes on believing it is active.
import { FleetgateError } from "../../shared/errors.js";

export interface LeaseTimings {
  /** How long a renewal keeps the lease; an active one that has not renewed for this long steps down. */
  leaseMs: number;
  /** How often the active renews (well inside the lease, so one slow renewal does not lose it). */
  renewMs: number;
  /** How often a standby tries the lock (and reads the lease): the failover time after a clean session end. */
  pollMs: number;
}

export const DEFAULT_TIMINGS: LeaseTimings = { leaseMs: 10_000, renewMs: 3_000, pollMs: 1_000 };

/** The defaults with `given` on top, or bad_input when they cannot work together. */
export function leaseTimings(given: Partial<LeaseTimings> = {}): LeaseTimings {
  const leaseMs = given.leaseMs ?? DEFAULT_TIMINGS.leaseMs;
  // A lease given alone: renew three times per lease, poll at most every second.
  const renewMs = given.renewMs ?? (given.leaseMs === undefined ? DEFAULT_TIMINGS.renewMs : Math.max(1, Math.floor(leaseMs / 3)));
  const t = { leaseMs, renewMs, pollMs: given.pollMs ?? Math.min(DEFAULT_TIMINGS.pollMs, Math.floor(leaseMs / 2)) };
  for (const [name, ms] of Object.entries(t)) {
    if (!Number.isInteger(ms) || ms < 1) throw new FleetgateError("bad_input", `leadership ${name} must be a whole number of milliseconds ≥ 1, got ${ms}`);
  }
  // Two renewals per lease at least: one that is slow or lost must not cost the lease.
  if (t.renewMs * 2 > t.leaseMs) throw new FleetgateError("bad_input", `leadership renewMs (${t.renewMs}) must be at most half of leaseMs (${t.leaseMs})`);
  // The standby's session is idle between polls and the server ends a session idle for leaseMs.
  if (t.pollMs * 2 > t.leaseMs) throw new FleetgateError("bad_input", `leadership pollMs (${t.pollMs}) must be at most half of leaseMs (${t.leaseMs})`);
  return t;
}

/**
 * How long after sending its last successful renewal an active coordinator gives up being active.
 * The server ends the session (and so frees the lock for a standby) once it has been idle for
 * leaseMs, counted from when that renewal finished there, later than it was sent; half a renewal
 * period less again leaves room for a timer that fires late on a busy host. So the old active has
 * stopped before a standby can take the lock.
 */
export function stepDownAfterMs(t: LeaseTimings): number {
  return t.leaseMs - Math.floor(t.renewMs / 2);
}

/** What an active coordinator does now: renew once `renewMs` has passed since its last renewal was sent, step down once stepDownAfterMs has. */
export function activeStep(lastRenewalSentAt: number, now: number, t: LeaseTimings): { kind: "renew" } | { kind: "wait"; ms: number } | { kind: "step_down"; overdueMs: number } {
  const since = now - lastRenewalSentAt;
  if (since >= stepDownAfterMs(t)) return { kind: "step_down", overdueMs: since - stepDownAfterMs(t) };
  if (since >= t.renewMs) return { kind: "renew" };
  return { kind: "wait", ms: t.renewMs - since };
}

/** The lease row as stored (milliseconds of the database's clock). */
export interface LeaseRow {
  holder: string;
  address: string;
  acquiredAt: number;
  renewedAt: number;
  expiresAt: number;
}

/** Who is active, as a standby sees it. */
export interface ActiveCoordinator extends LeaseRow {
  /** The holder stopped renewing: gone, or cut off from the database and about to lose its session. */
  expired: boolean;
}

/** The lease as a standby reads it, judged on the database's clock (both sides use it, so skew between hosts does not matter). */
export function activeFrom(row: LeaseRow | undefined, dbNow: number): ActiveCoordinator | undefined {
  if (!row) return undefined;
  return { ...row, expired: row.expiresAt <= dbNow };
}

/** What a standby tells a caller that wanted the active coordinator: where to go, or that none is known. */
export function notActiveMessage(self: string, active: ActiveCoordinator | undefined, dbNow: number): string {
  if (!active) return `coordinator ${self} is a standby and no coordinator has taken the lead yet; try again in a few seconds`;
  if (active.holder === self) return `coordinator ${self} is not active (its lease lapsed); try again in a few seconds`;
  if (active.expired) {
    const ago = Math.max(0, Math.round((dbNow - active.renewedAt) / 1000));
    return `coordinator ${self} is a standby; the last active one, ${active.holder} at ${active.address}, has not renewed its lease for ${ago} s; try again in a few seconds`;
  }
  return `coordinator ${self} is a standby; the active coordinator is ${active.holder}, try ${active.address}`;
}
