// JUnit XML (from `cargo test -- --format junit`, pytest, bats --formatter junit…) → one case per
// testcase. Pure: XML text in, cases out.
import { XMLParser } from "fast-xml-parser";
import type { TestCaseOutcome } from "./kind.js";

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", textNodeName: "text", isArray: (name) => ["testsuite", "testcase", "failure", "error", "skipped"].includes(name) });

type Node = Record<string, unknown>;

function message(nodes: unknown): string {
  const first = (nodes as Node[] | undefined)?.[0];
  if (first === undefined) return "";
  if (typeof first !== "object") return String(first).trim();
  return String(first.message ?? first.text ?? "").trim().split("\n")[0] ?? "";
}

function suites(doc: Node): Node[] {
  const root = (doc.testsuites as Node | undefined) ?? doc;
  return (root.testsuite as Node[] | undefined) ?? [];
}

/** Throws when the text is not JUnit XML, so a broken report is never read as "no failures". */
export function parseJunitCases(xml: string): TestCaseOutcome[] {
  const start = xml.indexOf("<");
  if (start < 0) throw new Error("no XML found");
  const doc = parser.parse(xml.slice(start)) as Node;
  const all = suites(doc);
  if (!all.length) throw new Error("no <testsuite> element");
  return all.flatMap((suite) =>
    ((suite.testcase as Node[] | undefined) ?? []).map((tc): TestCaseOutcome => {
      const name = [tc.classname, tc.name].filter(Boolean).join("::");
      const durationMs = Math.round(Number(tc.time ?? 0) * 1000);
      if (tc.failure || tc.error) return { name, status: "failed", message: message(tc.failure ?? tc.error), durationMs };
      if (tc.skipped) return { name, status: "skipped", message: message(tc.skipped), durationMs };
      return { name, status: "passed", message: "", durationMs };
    }),
  );
}
