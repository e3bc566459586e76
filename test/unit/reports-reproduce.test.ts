import { execFileSync } from "node:child_process";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { reproduceCheck, shellCommand, shellQuote, suiteFile } from "../../coordinator/reports/reproduce.js";
import { CheckResultSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { Status } from "../../shared/model/status.js";
import { gateRun } from "./run-report.fixture.js";

describe("reproduce lines", () => {
  it("quotes arguments so a POSIX shell gives back exactly the same argv", () => {
    const argv = ["fleetgate-agent", "check", "my suites/app's.yaml", "--only", "$(rm -rf /)", "", "a\"b`c\\d", "ok-id_1.2:3"];
    const line = shellCommand(argv);
    const back = execFileSync("sh", ["-c", `set -- ${line}; for a in "$@"; do printf '%s\\0' "$a"; done`], { encoding: "utf8" });
    expect(back.split("\0").slice(0, -1)).toEqual(argv);
    expect(shellQuote("ok-id_1.2:3")).toBe("ok-id_1.2:3");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });

  it("finds the suite where coord run read it: next to the plan, unless absolute", () => {
    expect(suiteFile("plans/gate.yaml", "suites/app.yaml")).toBe("plans/suites/app.yaml");
    expect(suiteFile("gate.yaml", "../suites/app.yaml")).toBe("../suites/app.yaml");
    expect(suiteFile("plans/gate.yaml", "/etc/fleetgate/app.yaml")).toBe("/etc/fleetgate/app.yaml");
  });

  it("re-runs a failed check alone on its node, and a not-ready precondition with its suite", () => {
    const run = gateRun();
    const b2 = run.tasks.find((t) => t.nodeName === "node-b" && t.iteration === 2 && t.stageId === "fleet")!;
    expect(reproduceCheck(run, b2, b2.checks[1]!)).toEqual({ where: "node", node: "node-b", command: "fleetgate-agent check plans/suites/app.yaml --only http" });
    const c1 = run.tasks.find((t) => t.nodeName === "node-c")!;
    expect(reproduceCheck(run, c1, c1.checks[0]!)?.command).toBe("fleetgate-agent check plans/suites/app.yaml");
    expect(reproduceCheck(run, b2, b2.checks[0]!)).toBeUndefined(); // passed
    expect(reproduceCheck(run, b2, b2.checks[3]!)).toBeUndefined(); // skipped on purpose
  });

  it("re-runs a cross step as its whole stage with the same role bindings, an inline leg on its node", () => {
    const run = gateRun();
    const read = run.tasks.find((t) => t.stepId === "read")!;
    expect(reproduceCheck(run, read, read.checks[0]!)?.command).toBe("coord run handoff --plan plans/gate.yaml --bind writer=node-a --bind reader=node-b");
    const billing = run.tasks.find((t) => t.stepId === "billing")!;
    run.withLegs = ["billing"];
    const failed = create(CheckResultSchema, { checkId: "invoice", status: Status.FAILED });
    expect(reproduceCheck(run, billing, failed)).toEqual({ where: "workstation", node: "node-b", command: "coord run matrix --plan plans/gate.yaml --node node-b --with billing" });
  });

  it("re-runs a failed requires: probe as its leg from the workstation, even for a leg with a suite: the probe is in the plan", () => {
    const run = gateRun();
    const plasma = run.tasks.find((t) => t.stepId === "plasma")!;
    plasma.suitePath = "suites/plasma.yaml";
    expect(reproduceCheck(run, plasma, plasma.checks[0]!)).toEqual({ where: "workstation", node: "node-a", command: "coord run matrix --plan plans/gate.yaml --node node-a" });
  });
});
