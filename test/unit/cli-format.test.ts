import { describe, expect, it } from "vitest";
import { formatRunSummary, runExitCode, runOutcome } from "../../coordinator/cli/format.js";
import { Status, statusName } from "../../shared/model/status.js";
import { sampleRun } from "./run-report.fixture.js";

describe("runExitCode", () => {
  it("exits 0 for a passed run and 1 for a failed one", () => {
    expect(runExitCode(Status.PASSED)).toBe(0);
    expect(runExitCode(Status.FAILED)).toBe(1);
  });

  it.each([Status.NOT_READY, Status.LOST, Status.SKIPPED, Status.ERROR, Status.CANCELLED].map((s) => ({ s, name: statusName(s) })))(
    "exits 2 (incomplete) for a $name run",
    ({ s }) => {
      expect(runExitCode(s)).toBe(2);
      expect(runOutcome(s)).toBe("INCOMPLETE");
    },
  );
});

describe("formatRunSummary", () => {
  it("shows one row per stage and node with its iteration dots, then the outcome and every attestation flag", () => {
    const run = sampleRun({ attestationFlags: ["nodes n2, n3 share machine-id 1f2e3d4c", "agent prim runs on the coordinator host"] });
    expect(formatRunSummary(run)).toBe(
      [
        "STAGE  NODE  ITERATIONS  STATUS     DETAIL",
        "smoke  prim  ++ 2/2      passed",
        "fleet  n1    +x 1/2      failed     1 of 2 checks failed",
        "fleet  n2    n 0/1       not_ready  precondition synced: node not ready",
        "fleet  n3    L 0/1       lost       node n3 lost: not connected for 5 min",
        "after  prim  s 0/1       skipped    stage fleet did not pass (failed)",
        "",
        "run r1 (release): FAILED",
        "  not valid for sign-off: nodes n2, n3 share machine-id 1f2e3d4c",
        "  not valid for sign-off: agent prim runs on the coordinator host",
      ].join("\n"),
    );
  });

  it("prints no sign-off warning when attestation is clean", () => {
    const text = formatRunSummary(sampleRun({ status: Status.PASSED, attestationFlags: [] }));
    expect(text.split("\n").at(-1)).toBe("run r1 (release): PASSED");
    expect(text).not.toContain("not valid for sign-off");
  });
});
