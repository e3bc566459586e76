// Fuzz (issue 14): the shipped suites and plans, mutated as people under release pressure
// mutate them (a field deleted, duplicated or given another type, indentation off by a few
// spaces or a tab, the file cut short, stray unicode), go through the production parsers
// (parseSuite, parsePlan). Each either parses or is refused as bad input at a file:line:col;
// nothing else escapes: no TypeError from a validator, no yaml library error, no hang (inputs
// stay a few KiB; vitest's test timeout is the bound, no timing is asserted).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { FleetgateError } from "../../shared/errors.js";
import { parsePlan } from "../../shared/model/plan.js";
import { parseSuite } from "../../shared/model/suite.js";

const SEED = 1414;
const RUNS = 300;

const read = (rel: string) => readFileSync(fileURLToPath(new URL(`../../${rel}`, import.meta.url)), "utf8");
const SUITES = ["test/examples/archy-node.suite.yaml", "test/examples/integration-leg.suite.yaml", "deploy/demo/node-gate.suite.yaml"].map((f) => ({ file: f, text: read(f) }));
const PLANS = ["test/examples/release-gate.plan.yaml", "deploy/demo/demo.plan.yaml"].map((f) => ({ file: f, text: read(f) }));

type Path = (string | number)[];

/** Every path to a value in a parsed document, the root excepted. */
function pathsOf(value: unknown, at: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => [[...at, i], ...pathsOf(v, [...at, i])]);
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => [[...at, k], ...pathsOf(v, [...at, k])]);
  return [];
}

function parentOf(root: unknown, path: Path): Record<string | number, unknown> {
  return path.slice(0, -1).reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], root) as Record<string | number, unknown>;
}

/** Values of another type than the field expects, and a few of the right type but wrong. */
const otherValue = fc.constantFrom<unknown>(null, 0, -1, 1.5, 1e21, true, false, "", "x", "5", "yes", "0600", "${vars.nope}", "${env.NOPE}", "1m1m", "[", [], {}, [1, "a", null], { a: 1 }, { retry: { for: "5s" } }, "\u0000\u202e");

type Edit = (doc: unknown) => void;

/** A structural edit at the n-th path (mod the number of paths): delete, duplicate, retype. */
const structuralEdit: fc.Arbitrary<Edit> = fc.oneof(
  fc.nat().map((n): Edit => (doc) => {
    const paths = pathsOf(doc);
    const path = paths[n % paths.length]!;
    const parent = parentOf(doc, path);
    const key = path.at(-1)!;
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  }),
  fc.nat().map((n): Edit => (doc) => {
    // An array element twice (the same check id twice), or a field copied under a near name.
    const paths = pathsOf(doc);
    const path = paths[n % paths.length]!;
    const parent = parentOf(doc, path);
    const key = path.at(-1)!;
    if (Array.isArray(parent)) parent.splice(key as number, 0, structuredClone(parent[key as number]));
    else parent[`${String(key)}s`] = structuredClone(parent[key]);
  }),
  fc.tuple(fc.nat(), otherValue).map(([n, value]): Edit => (doc) => {
    const paths = pathsOf(doc);
    const path = paths[n % paths.length]!;
    parentOf(doc, path)[path.at(-1)!] = structuredClone(value);
  }),
);

/** Strange text: any code point, and the few that trip parsers (NUL, BOM, LS, a lone surrogate, CRLF, tab). */
const strangeText = fc.oneof(fc.string({ unit: "binary", maxLength: 6 }), fc.constantFrom("\u0000", "\ufeff", "\u2028", "\ud800", "\r\n", "\t", ": ", "- ", "{", "]", "&a *a", "!!binary", "? ", "%YAML 1.1\n", "---\n", "'"));

type TextEdit = (text: string) => string;

const lineEdit = (n: number, edit: (lines: string[], i: number) => void): TextEdit => (text) => {
  const lines = text.split("\n");
  edit(lines, n % lines.length);
  return lines.join("\n");
};

/** An edit of the text: truncate, inject, reindent a line (spaces or a tab), delete or duplicate a line. */
const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.nat().map((n): TextEdit => (text) => text.slice(0, n % (text.length + 1))),
  fc.tuple(fc.nat(), strangeText).map(([n, s]): TextEdit => (text) => {
    const at = n % (text.length + 1);
    return text.slice(0, at) + s + text.slice(at);
  }),
  fc.tuple(fc.nat(), fc.integer({ min: -4, max: 4 })).map(([n, d]) =>
    lineEdit(n, (lines, i) => {
      lines[i] = d >= 0 ? " ".repeat(d) + lines[i] : lines[i]!.replace(new RegExp(`^ {0,${-d}}`), "");
    }),
  ),
  fc.nat().map((n) => lineEdit(n, (lines, i) => (lines[i] = lines[i]!.replace(/^ +/, "\t")))),
  fc.nat().map((n) => lineEdit(n, (lines, i) => lines.splice(i, 1))),
  fc.nat().map((n) => lineEdit(n, (lines, i) => lines.splice(i, 0, lines[i]!))),
);

/** A valid file through 0–2 structural edits (re-serialised), then 0–3 text edits. */
function mutated(files: { file: string; text: string }[]) {
  return fc.record({
    source: fc.constantFrom(...files),
    edits: fc.array(structuralEdit, { maxLength: 2 }),
    textEdits: fc.array(textEdit, { maxLength: 3 }),
  }).map(({ source, edits, textEdits }) => {
    let text = source.text;
    if (edits.length) {
      const doc = parseYaml(text) as unknown;
      for (const edit of edits) if (pathsOf(doc).length) edit(doc);
      text = stringifyYaml(doc);
    }
    for (const edit of textEdits) text = edit(text);
    return { file: source.file, text };
  });
}

/** Parses, or is refused as bad input whose message starts with a location inside the file. */
function parsesOrRefusesWithLocation(parse: (text: string, file: string) => unknown, file: string, text: string): void {
  try {
    parse(text, file);
  } catch (err) {
    if (!(err instanceof FleetgateError)) throw new Error(`not a FleetgateError: ${String(err)}\n--- input:\n${text}`, { cause: err });
    expect(err.code, err.message).toBe("bad_input");
    expect(err.where, err.message).toBeDefined();
    const { line, col } = err.where!;
    expect(err.message.startsWith(`${file}:${line}:${col} `), err.message).toBe(true);
    expect(line, err.message).toBeGreaterThanOrEqual(1);
    expect(line, err.message).toBeLessThanOrEqual(text.split("\n").length + 1);
    expect(col, err.message).toBeGreaterThanOrEqual(1);
  }
}

describe("fuzzed suites and plans through the production parsers", () => {
  it("the unmutated examples parse (else every mutation below would only test refusals)", () => {
    for (const s of SUITES) expect(parseSuite(s.text, s.file).checks.length).toBeGreaterThan(0);
    for (const p of PLANS) expect(parsePlan(p.text, p.file).stages.length).toBeGreaterThan(0);
  });

  it("a mutated suite parses or is refused as bad input at file:line:col, never anything else", () => {
    fc.assert(
      fc.property(mutated(SUITES), ({ file, text }) => parsesOrRefusesWithLocation(parseSuite, file, text)),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("a mutated plan parses or is refused as bad input at file:line:col, never anything else", () => {
    fc.assert(
      fc.property(mutated(PLANS), ({ file, text }) => parsesOrRefusesWithLocation(parsePlan, file, text)),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("random text, not YAML at all, is refused the same way (or parses, if it happens to be a suite)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 400 }), (text) => {
        parsesOrRefusesWithLocation(parseSuite, "random.suite.yaml", text);
        parsesOrRefusesWithLocation(parsePlan, "random.plan.yaml", text);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
