import { create } from "@bufbuild/protobuf";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { renderPrometheus } from "../../agent/cli/check-prometheus.js";
import type { SuiteOutcome } from "../../agent/engine/run-suite.js";
import { CheckResultSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { Status } from "../../shared/model/status.js";
import { needsTool } from "../support/system-tools.js";

const promtool = needsTool("promtool", "prometheus");

const result = (checkId: string, kind: string, status: Status, durationMs: bigint, precondition = false) => create(CheckResultSchema, { checkId, kind, status, durationMs, precondition });

const OUTCOMES: SuiteOutcome[] = [
  {
    status: Status.FAILED,
    summary: "1 of 2 checks failed",
    results: [result("ssh-up", "tcp", Status.PASSED, 3n, true), result("nginx", "http", Status.PASSED, 40n), result("disk \"root\"", "disk", Status.FAILED, 1500n)],
  },
  { status: Status.PASSED, summary: "all passed", results: [result("ssh-up", "tcp", Status.PASSED, 2n, true), result("nginx", "http", Status.PASSED, 30n), result("disk \"root\"", "disk", Status.PASSED, 10n)] },
];

const render = () => renderPrometheus({ suite: "archy-node", outcomes: OUTCOMES, durationMs: 2250, finishedAtMs: 1_700_000_000_400 });

describe("fleetgate-agent check --format prometheus", () => {
  it("gives each check of each iteration its success, status and duration, labels escaped", async () => {
    const text = await render();
    expect(text).toContain('fleetgate_check_success{suite="archy-node",check="disk \\"root\\"",kind="disk",precondition="false",iteration="1",status="failed"} 0\n');
    expect(text).toContain('fleetgate_check_success{suite="archy-node",check="disk \\"root\\"",kind="disk",precondition="false",iteration="2",status="passed"} 1\n');
    expect(text).toContain('fleetgate_check_success{suite="archy-node",check="ssh-up",kind="tcp",precondition="true",iteration="1",status="passed"} 1\n');
    expect(text).toContain('fleetgate_check_duration_seconds{suite="archy-node",check="disk \\"root\\"",kind="disk",precondition="false",iteration="1"} 1.5\n');
  });

  it("counts outcomes by kind and status, zero for a status no check of that kind had, and says the run failed when any iteration did", async () => {
    const text = await render();
    expect(text).toContain('fleetgate_check_outcomes{suite="archy-node",kind="disk",status="passed"} 1\n');
    expect(text).toContain('fleetgate_check_outcomes{suite="archy-node",kind="disk",status="failed"} 1\n');
    expect(text).toContain('fleetgate_check_outcomes{suite="archy-node",kind="http",status="failed"} 0\n');
    expect(text).toContain('fleetgate_check_outcomes{suite="archy-node",kind="tcp",status="passed"} 2\n');
    expect(text).toContain('fleetgate_suite_success{suite="archy-node",status="failed"} 0\n');
    expect(text).toContain('fleetgate_suite_duration_seconds{suite="archy-node"} 2.25\n');
    expect(text).toContain('fleetgate_suite_last_run_timestamp_seconds{suite="archy-node"} 1700000000\n');
  });

  it.skipIf(!promtool)("passes promtool check metrics", async () => {
    const r = await execa("promtool", ["check", "metrics"], { input: await render(), reject: false });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
  });
});
