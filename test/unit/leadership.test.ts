// The decisions of the coordinator election without a database (coordinator/ha/leadership.ts):
// timings that cannot work refused, when the active renews and when it gives up, and what a
// standby tells a caller looking for the active coordinator.
import { describe, expect, it } from "vitest";
import { activeFrom, activeStep, DEFAULT_TIMINGS, leaseTimings, notActiveMessage, stepDownAfterMs } from "../../coordinator/ha/leadership.js";

describe("lease timings", () => {
  it("default to a 10 s lease renewed every 3 s and a standby polling every second", () => {
    expect(leaseTimings()).toEqual({ leaseMs: 10_000, renewMs: 3_000, pollMs: 1_000 });
    expect(leaseTimings()).toEqual(DEFAULT_TIMINGS);
  });

  it("derive the renewal and poll periods from a lease given alone", () => {
    expect(leaseTimings({ leaseMs: 1_200 })).toEqual({ leaseMs: 1_200, renewMs: 400, pollMs: 600 });
  });

  it("refuse a renewal or poll period longer than half the lease, and periods that are not whole positive milliseconds", () => {
    expect(() => leaseTimings({ leaseMs: 6_000, renewMs: 3_001 })).toThrow(/renewMs \(3001\) must be at most half of leaseMs \(6000\)/);
    expect(() => leaseTimings({ leaseMs: 6_000, pollMs: 4_000 })).toThrow(/pollMs \(4000\) must be at most half/);
    expect(() => leaseTimings({ pollMs: 0 })).toThrow(/pollMs must be a whole number of milliseconds ≥ 1, got 0/);
    expect(() => leaseTimings({ leaseMs: 2.5 })).toThrow(/leaseMs must be a whole number/);
    expect(() => leaseTimings({ renewMs: 0 })).toThrow(expect.objectContaining({ code: "bad_input" }));
  });
});

describe("the active coordinator's next step", () => {
  const t = { leaseMs: 10_000, renewMs: 3_000, pollMs: 1_000 };

  it("waits until a renewal period has passed since the last renewal was sent, then renews", () => {
    expect(activeStep(1_000, 1_000, t)).toEqual({ kind: "wait", ms: 3_000 });
    expect(activeStep(1_000, 3_500, t)).toEqual({ kind: "wait", ms: 500 });
    expect(activeStep(1_000, 4_000, t)).toEqual({ kind: "renew" });
    expect(activeStep(1_000, 9_000, t)).toEqual({ kind: "renew" });
  });

  it("steps down half a renewal period before the server could end its idle session and free the lock", () => {
    expect(stepDownAfterMs(t)).toBe(8_500);
    expect(activeStep(1_000, 9_499, t)).toEqual({ kind: "renew" });
    expect(activeStep(1_000, 9_500, t)).toEqual({ kind: "step_down", overdueMs: 0 });
    expect(activeStep(1_000, 12_000, t)).toEqual({ kind: "step_down", overdueMs: 2_500 });
  });
});

describe("what a standby says about the active coordinator", () => {
  const row = { holder: "coord-a", address: "10.0.0.1:7400", acquiredAt: 1_000, renewedAt: 50_000, expiresAt: 60_000 };

  it("judges the lease expired on the database's clock, at its expiry and after", () => {
    expect(activeFrom(row, 59_999)?.expired).toBe(false);
    expect(activeFrom(row, 60_000)?.expired).toBe(true);
    expect(activeFrom(undefined, 60_000)).toBeUndefined();
  });

  it("sends the caller to the active coordinator's address while its lease holds", () => {
    expect(notActiveMessage("coord-b", activeFrom(row, 55_000), 55_000)).toBe("coordinator coord-b is a standby; the active coordinator is coord-a, try 10.0.0.1:7400");
  });

  it("says the last active one stopped renewing, and for how long, once its lease has run out", () => {
    expect(notActiveMessage("coord-b", activeFrom(row, 62_000), 62_000)).toBe(
      "coordinator coord-b is a standby; the last active one, coord-a at 10.0.0.1:7400, has not renewed its lease for 12 s; try again in a few seconds",
    );
  });

  it("says no coordinator has the lead when there is no lease, and that it lapsed when the lease is its own", () => {
    expect(notActiveMessage("coord-b", undefined, 0)).toMatch(/^coordinator coord-b is a standby and no coordinator has taken the lead yet/);
    expect(notActiveMessage("coord-a", activeFrom(row, 62_000), 62_000)).toMatch(/^coordinator coord-a is not active \(its lease lapsed\)/);
  });
});
