import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { renderJunit, renderTap } from "../../agent/cli/check-formats.js";
import { parseJunitCases } from "../../agent/checks/junit-cases.js";
import type { SuiteOutcome } from "../../agent/engine/run-suite.js";
import { CheckResultSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { Status } from "../../shared/model/status.js";

const T0 = Date.UTC(2026, 10, 25, 6, 0, 0);
const result = (checkId: string, status: Status, extra: MessageInitShape<typeof CheckResultSchema> = {}) =>
  create(CheckResultSchema, { ...extra, checkId, kind: "command", status, startedAtMs: BigInt(T0), durationMs: 1500n });

const green: SuiteOutcome = { status: Status.FAILED, summary: "", results: [
  result("echo", Status.PASSED),
  result("proxy", Status.FAILED, { summary: "expected exit 0, saw 1", hint: "regenerate <config> & \"reload\"", stderrTail: "grep: no match" }),
  result("restart", Status.SKIPPED, { reason: "destructive not allowed" }),
] };
const notReady: SuiteOutcome = { status: Status.NOT_READY, summary: "not ready: precondition synced: expected initialblockdownload false, saw true", results: [
  result("synced", Status.NOT_READY, { precondition: true, summary: "expected initialblockdownload false, saw true" }),
] };

describe("TAP 13 output of fleetgate-agent check", () => {
  it("numbers every result, marks skips with # SKIP and explains failures in a YAML block", () => {
    expect(renderTap([green])).toBe(
      [
        "TAP version 13",
        "1..3",
        "ok 1 - echo",
        "not ok 2 - proxy",
        "  ---",
        "  status: failed",
        '  message: "expected exit 0, saw 1"',
        '  hint: "regenerate <config> & \\"reload\\""',
        "  ...",
        "ok 3 - restart # SKIP destructive not allowed",
        "",
      ].join("\n"),
    );
  });

  it("bails out on a not-ready node instead of reporting its gate checks as failed", () => {
    const tap = renderTap([notReady]);
    expect(tap).toContain("not ok 1 - precondition synced");
    expect(tap.trimEnd().split("\n").at(-1)).toBe("Bail out! not ready: precondition synced: expected initialblockdownload false, saw true");
  });

  it("prints nothing after Bail out!, not even a later iteration, and plans only the results before it", () => {
    const tap = renderTap([green, notReady, green]);
    const lines = tap.split("\n");
    expect(tap.endsWith("Bail out! not ready: precondition synced: expected initialblockdownload false, saw true\n")).toBe(true);
    expect(lines.filter((l) => l.startsWith("Bail out!"))).toHaveLength(1);
    expect(lines[1]).toBe("1..4");
    expect(lines.filter((l) => /^(not )?ok \d+ /.test(l)).map((l) => l.replace(/ # SKIP .*/, ""))).toEqual([
      "ok 1 - iteration 1: echo",
      "not ok 2 - iteration 1: proxy",
      "ok 3 - iteration 1: restart",
      "not ok 4 - iteration 2: precondition synced",
    ]);
  });
});

describe("JUnit output of fleetgate-agent check", () => {
  const parse = (xml: string) => new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", preserveOrder: true }).parse(xml) as Record<string, unknown>[];

  it("follows the common JUnit XSD: bare <testsuites>, required testsuite attributes, element order", () => {
    const xml = renderJunit("gate", [green, notReady], "node-a");
    const doc = parse(xml);
    const root = doc.find((n) => "testsuites" in n) as { testsuites: Record<string, unknown>[]; ":@"?: unknown };
    expect(root[":@"]).toBeUndefined();
    const suites = root.testsuites.filter((n) => "testsuite" in n) as { testsuite: Record<string, unknown>[]; ":@": Record<string, string> }[];
    expect(suites).toHaveLength(3);
    expect(suites[1]?.[":@"]).toEqual({
      package: "gate [iteration 1]", id: "1", name: "gate [iteration 1]", timestamp: "2026-11-25T06:00:00", hostname: "node-a",
      tests: "3", failures: "1", errors: "0", skipped: "1", time: "4.500",
    });
    const order = suites[1]?.testsuite.map((n) => Object.keys(n).find((k) => k !== ":@"));
    expect(order).toEqual(["properties", "testcase", "testcase", "testcase", "system-out", "system-err"]);
    expect(suites[2]?.[":@"]).toMatchObject({ id: "2", errors: "1", failures: "0" });
  });

  it("leads with a verdict case that fails unless the check exits green, with why in its message", () => {
    const verdict = (xml: string) => parseJunitCases(xml).find((c) => c.name === "fleetgate::verdict");
    expect(verdict(renderJunit("gate", [green, notReady], "node-a"))).toMatchObject({
      status: "failed",
      message: "iteration 1: failed; iteration 2: not_ready: not ready: precondition synced: expected initialblockdownload false, saw true",
    });
    const passed: SuiteOutcome = { status: Status.PASSED, summary: "1/1 passed", results: [result("echo", Status.PASSED)] };
    expect(verdict(renderJunit("gate", [passed], "node-a"))?.status).toBe("passed");
  });

  it("fails the verdict of a check whose every check was skipped: no failure and no error, yet it exits 2, never green", () => {
    const skippedOnly: SuiteOutcome = { status: Status.SKIPPED, summary: "0/1 passed, 1 skipped", results: [result("restart", Status.SKIPPED, { reason: "destructive not allowed" })] };
    const cases = parseJunitCases(renderJunit("gate", [skippedOnly], "node-a"));
    expect(cases.map((c) => [c.name, c.status])).toEqual([
      ["fleetgate::verdict", "failed"],
      ["gate::restart", "skipped"],
    ]);
    expect(cases[0]?.message).toBe("skipped: 0/1 passed, 1 skipped");
  });

  it("escapes markup in messages and reads back as the same cases: never a skip or not-ready as a pass", () => {
    const xml = renderJunit("gate", [green, notReady], "node-a");
    expect(xml).toContain("regenerate &lt;config&gt; &amp; &quot;reload&quot;");
    const cases = parseJunitCases(xml);
    expect(cases.map((c) => [c.name, c.status])).toEqual([
      ["fleetgate::verdict", "failed"],
      ["gate::echo", "passed"],
      ["gate::proxy", "failed"],
      ["gate::restart", "skipped"],
      ["gate::precondition synced", "failed"],
    ]);
    expect(cases[2]?.message).toBe('failed: expected exit 0, saw 1 (hint: regenerate <config> & "reload")');
  });
});
