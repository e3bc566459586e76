import { describe, expect, it } from "vitest";
import { checkExitCode, overallStatus } from "../../agent/cli/check-output.js";
import { Status } from "../../shared/model/status.js";

const outcome = (status: Status) => ({ status, summary: "", results: [] });

describe("fleetgate-agent check's overall status", () => {
  it("is failed (exit 1) when one iteration failed and another errored", () => {
    const status = overallStatus([outcome(Status.ERROR), outcome(Status.FAILED)]);
    expect(status).toBe(Status.FAILED);
    expect(checkExitCode(status)).toBe(1);
  });

  it("is green (exit 0) only when every iteration passed, and not ready (exit 2) otherwise", () => {
    expect(checkExitCode(overallStatus([outcome(Status.PASSED), outcome(Status.PASSED)]))).toBe(0);
    expect(checkExitCode(overallStatus([outcome(Status.PASSED), outcome(Status.NOT_READY)]))).toBe(2);
    expect(checkExitCode(overallStatus([outcome(Status.PASSED), outcome(Status.ERROR)]))).toBe(3);
  });
});
