// JUnit XML as CI systems read it (testsuites > testsuite > testcase), written with
// fast-xml-parser's builder so escaping is a library's job. Pure: same input, same bytes.
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
}

export interface JunitSuite {
  name: string;
  hostname?: string;
  timestamp?: string;
  cases: JunitCase[];
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@", format: true, indentBy: "  ", suppressEmptyNode: true });

const count = (cases: JunitCase[], o: JunitCase["outcome"]) => cases.filter((c) => c.outcome === o).length;
const seconds = (cases: JunitCase[]) => cases.reduce((s, c) => s + c.seconds, 0).toFixed(3);

function testcase(c: JunitCase): Record<string, unknown> {
  const tc: Record<string, unknown> = { "@classname": c.classname, "@name": c.name, "@time": c.seconds.toFixed(3) };
  if (c.outcome === "failed") tc.failure = { "@message": c.message, "@type": "failure", "#text": c.output ?? "" };
  if (c.outcome === "error") tc.error = { "@message": c.message, "@type": "error", "#text": c.output ?? "" };
  if (c.outcome === "skipped") tc.skipped = { "@message": c.message };
  if (c.output && c.outcome === "passed") tc["system-out"] = c.output;
  return tc;
}

export function buildJunitXml(suites: JunitSuite[]): string {
  const all = suites.flatMap((s) => s.cases);
  const doc = {
    "?xml": { "@version": "1.0", "@encoding": "UTF-8" },
    testsuites: {
      "@name": suites[0]?.name ?? "fleetgate",
      "@tests": all.length,
      "@failures": count(all, "failed"),
      "@errors": count(all, "error"),
      "@skipped": count(all, "skipped"),
      "@time": seconds(all),
      testsuite: suites.map((s, i) => ({
        "@name": s.name,
        "@id": i,
        "@tests": s.cases.length,
        "@failures": count(s.cases, "failed"),
        "@errors": count(s.cases, "error"),
        "@skipped": count(s.cases, "skipped"),
        "@time": seconds(s.cases),
        ...(s.timestamp ? { "@timestamp": s.timestamp } : {}),
        ...(s.hostname ? { "@hostname": s.hostname } : {}),
        testcase: s.cases.map(testcase),
      })),
    },
  };
  return builder.build(doc) as string;
}
