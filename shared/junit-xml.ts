// JUnit XML as CI systems read it (testsuites > testsuite > testcase), shaped after the common
// JUnit XSD (Apache Ant's, as published by Windy Road): no attributes on <testsuites>; each
// testsuite has package, id, name, timestamp (no zone), hostname, tests, failures, errors, time,
// then <properties>, the testcases, <system-out> and <system-err>, in that order. Escaping is
// fast-xml-parser's job. Pure: same input, same bytes.
import { XMLBuilder } from "fast-xml-parser";

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
        properties: "",
        testcase: s.cases.map(testcase),
        "system-out": "",
        "system-err": "",
      })),
    },
  };
  return builder.build(doc) as string;
}
