// JUnit XML as CI systems read it (testsuites > testsuite > testcase), shaped after the common
// JUnit XSD (Apache Ant's, as published by Windy Road): no attributes on <testsuites>; each
// testsuite has package, id, name, timestamp (no zone), hostname, tests, failures, errors, time,
// then <properties>, the testcases, <system-out> and <system-err>, in that order. Escaping is
// fast-xml-parser's job. Pure: same input, same bytes.
import { XMLBuilder } from "fast-xml-parser";

/**
 * The verdict as a test of its own (coordinator reports and `fleetgate-agent check`): CI counts
 * tests, so a run that is not green must fail one even when no check failed. One name everywhere.
 */
export const VERDICT_SUITE = "fleetgate verdict";
export const VERDICT_CLASSNAME = "fleetgate";
export const VERDICT_NAME = "verdict";

export interface JunitCase {
  classname: string;
  name: string;
  seconds: number;
  outcome: "passed" | "failed" | "error" | "skipped";
  /** One line: why it failed, errored or was skipped. */
  message: string;
  /** Output kept as evidence (bounded by the caller). */
  output?: string;
  /** The failure/error type attribute, e.g. not_ready or lost; defaults to the outcome. */
  type?: string;
}

export interface JunitSuite {
  name: string;
  hostname: string;
  /** When the suite ran (ms since epoch); written as UTC without a zone, as the XSD wants. */
  startedAtMs: number;
  cases: JunitCase[];
  /** <property name value>, in order (names may repeat). */
  properties?: { name: string; value: string }[];
  /** The suite's <system-out>. */
  systemOut?: string;
}

/**
 * `run_as.CHECK` properties for the checks that ran as a `user:` (none when all ran as the agent).
 * Properties, because the JUnit XSD allows them on a testsuite only, not on a testcase.
 */
export function runAsProperties(results: readonly { checkId: string; runAs: string }[]): { name: string; value: string }[] {
  return results.filter((r) => r.runAs).map((r) => ({ name: `run_as.${r.checkId}`, value: r.runAs }));
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@", format: true, indentBy: "  ", suppressEmptyNode: true });

const count = (cases: JunitCase[], o: JunitCase["outcome"]) => cases.filter((c) => c.outcome === o).length;
const seconds = (cases: JunitCase[]) => cases.reduce((s, c) => s + c.seconds, 0).toFixed(3);

function testcase(c: JunitCase): Record<string, unknown> {
  const tc: Record<string, unknown> = { "@classname": c.classname, "@name": c.name, "@time": c.seconds.toFixed(3) };
  if (c.outcome === "failed") tc.failure = { "@message": c.message, "@type": c.type ?? "failure", "#text": c.output ?? "" };
  if (c.outcome === "error") tc.error = { "@message": c.message, "@type": c.type ?? "error", "#text": c.output ?? "" };
  if (c.outcome === "skipped") tc.skipped = { "@message": c.message };
  return tc;
}

function xsdTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

export function buildJunitXml(suites: JunitSuite[]): string {
  const doc = {
    "?xml": { "@version": "1.0", "@encoding": "UTF-8" },
    testsuites: {
      testsuite: suites.map((s, i) => ({
        "@package": s.name,
        "@id": i,
        "@name": s.name,
        "@timestamp": xsdTimestamp(s.startedAtMs),
        "@hostname": s.hostname || "localhost",
        "@tests": s.cases.length,
        "@failures": count(s.cases, "failed"),
        "@errors": count(s.cases, "error"),
        "@skipped": count(s.cases, "skipped"),
        "@time": seconds(s.cases),
        properties: s.properties?.length ? { property: s.properties.map((p) => ({ "@name": p.name, "@value": p.value })) } : "",
        testcase: s.cases.map(testcase),
        "system-out": s.systemOut ?? "",
        "system-err": "",
      })),
    },
  };
  return builder.build(doc) as string;
}
