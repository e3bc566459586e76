import { describe, expect, it } from "vitest";
import { formatRollout, progressLines, rolloutExitCode } from "../../coordinator/cli/rollout-commands.js";
import { initialRollout, rolloutStep, type RolloutState } from "../../coordinator/rollouts/core.js";
import { rolloutMessage } from "../../coordinator/rollouts/view.js";
import { Status } from "../../shared/model/status.js";

const header = { id: "ro-1", change: "app-2.0.0", plan: "gate", version: "2.0.0", batch: 1, createdAt: 0, startedBy: "ops" };

/** A rollout of alpha and beta driven through `results` (one per phase of the running node). */
function driven(results: { status: Status; lost?: boolean; captured?: Record<string, string>; holds?: { rule: string; reason: string }[] }[]): RolloutState {
  let s = rolloutStep(initialRollout(["alpha", "beta"], 1, false), { type: "start" }, 0).state;
  let run = 0;
  for (const r of results) {
    const n = s.nodes.find((x) => !["pending", "held", "done"].includes(x.phase))!;
    const runId = `r${++run}`;
    s = rolloutStep(s, { type: "phase_started", node: n.name, phase: n.phase as "facts", runId }, 0).state;
    s = rolloutStep(s, { type: "phase_done", node: n.name, phase: n.phase as "facts", runId, status: r.status, summary: r.status === Status.PASSED ? "" : "broke", lost: r.lost ?? false, captured: r.captured ?? {}, holds: r.holds }, 0).state;
  }
  return s;
}

describe("rollout report and exit status", () => {
  it("exits 0 completed, 1 rolled back, 2 held or unknown state", () => {
    const done = driven(Array(12).fill({ status: Status.PASSED }));
    expect(rolloutExitCode(rolloutMessage(header, done))).toBe(0);
    const rolledBack = driven([{ status: Status.PASSED }, { status: Status.PASSED }, { status: Status.PASSED }, { status: Status.PASSED }, { status: Status.FAILED }, { status: Status.PASSED }, { status: Status.PASSED }, { status: Status.PASSED }]);
    expect(rolledBack.status).toBe("stopped");
    expect(rolloutExitCode(rolloutMessage(header, rolledBack))).toBe(1);
    const held = driven([{ status: Status.PASSED, holds: [{ rule: "major_bump:version", reason: "major bump: version 1.4.0 → 2.0.0" }] }]);
    expect(rolloutExitCode(rolloutMessage(header, held))).toBe(2);
    const lost = driven([{ status: Status.PASSED }, { status: Status.PASSED }, { status: Status.PASSED }, { status: Status.LOST, lost: true }]);
    expect(lost.status).toBe("stopped");
    expect(rolloutExitCode(rolloutMessage(header, lost))).toBe(2);
  });

  it("shows per node facts before and after, gate, rollback, proof and known-good, and says how to approve a hold", () => {
    const rolledBack = driven([
      { status: Status.PASSED, captured: { version: "1.4.0" } },
      { status: Status.PASSED },
      { status: Status.PASSED },
      { status: Status.PASSED },
      { status: Status.FAILED },
      { status: Status.PASSED },
      { status: Status.PASSED },
      { status: Status.PASSED, captured: { version: "1.4.0" } },
    ]);
    const text = formatRollout(rolloutMessage(header, rolledBack));
    expect(text).toMatch(/^rollout ro-1: change app-2\.0\.0 \(version 2\.0\.0\), gate plan gate, batches of 1, full gate: STOPPED/);
    expect(text).toMatch(/alpha\s+1\s+done\s+rolled back\s+version=1\.4\.0\s+version=1\.4\.0\s+failed\s+passed\s+passed\s+kept/);
    expect(text).toMatch(/beta\s+2\s+pending\s+untouched/);
    expect(text).toMatch(/alpha gate: run r5 failed \(broke\)/);
    const held = formatRollout(rolloutMessage(header, driven([{ status: Status.PASSED, holds: [{ rule: "flag:manual_migration", reason: "release says manual_migration: true" }] }])));
    expect(held).toMatch(/alpha: held: release says manual_migration: true/);
    expect(held).toMatch(/held for approval: coord rollout resume ro-1 --approve --reason TEXT, or coord rollout abort ro-1 --reason TEXT/);
  });

  it("prints a line per phase a node enters and per event, once", () => {
    const a = rolloutMessage(header, driven([]));
    const b = rolloutMessage(header, driven([{ status: Status.PASSED }, { status: Status.PASSED }, { status: Status.PASSED }]));
    expect(progressLines(a, b)).toEqual(["alpha        apply"]);
    expect(progressLines(b, b)).toEqual([]);
    expect(progressLines(undefined, a)).toEqual(["started: 2 node(s) in batches: alpha → beta", "alpha        facts"]);
  });
});
