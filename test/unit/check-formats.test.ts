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
});

describe("JUnit output of fleetgate-agent check", () => {
  const parse = (xml: string) => new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", preserveOrder: true }).parse(xml) as Record<string, unknown>[];

  it("follows the common JUnit XSD: bare <testsuites>, required testsuite attributes, element order", () => {
    const xml = renderJunit("gate", [green, notReady], "node-a");
    const doc = parse(xml);
    const root = doc.find((n) => "testsuites" in n) as { testsuites: Record<string, unknown>[]; ":@"?: unknown };
    expect(root[":@"]).toBeUndefined();
    const suites = root.testsuites.filter((n) => "testsuite" in n) as { testsuite: Record<string, unknown>[]; ":@": Record<string, string> }[];
    expect(suites).toHaveLength(2);
    expect(suites[0]?.[":@"]).toEqual({
      package: "gate [iteration 1]", id: "0", name: "gate [iteration 1]", timestamp: "2026-11-25T06:00:00", hostname: "node-a",
      tests: "3", failures: "1", errors: "0", skipped: "1", time: "4.500",
    });
    const order = suites[0]?.testsuite.map((n) => Object.keys(n).find((k) => k !== ":@"));
    expect(order).toEqual(["properties", "testcase", "testcase", "testcase", "system-out", "system-err"]);
    expect(suites[1]?.[":@"]).toMatchObject({ id: "1", errors: "1", failures: "0" });
  });

  it("escapes markup in messages and reads back as the same cases: never a skip or not-ready as a pass", () => {
    const xml = renderJunit("gate", [green, notReady], "node-a");
    expect(xml).toContain("regenerate &lt;config&gt; &amp; &quot;reload&quot;");
    const cases = parseJunitCases(xml);
    expect(cases.map((c) => [c.name, c.status])).toEqual([
      ["gate::echo", "passed"],
      ["gate::proxy", "failed"],
      ["gate::restart", "skipped"],
      ["gate::precondition synced", "failed"],
    ]);
    expect(cases[1]?.message).toBe('failed: expected exit 0, saw 1 (hint: regenerate <config> & "reload")');
  });
});
