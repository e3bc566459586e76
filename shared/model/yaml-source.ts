// Parses a YAML file and validates it against a zod schema, reporting every problem as
// `file:line:col path: what was expected, what was seen` (DESIGN rule 5).
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type { z } from "zod";
import { FleetgateError, type SourceRef } from "../errors.js";
import { MAX_YAML_BYTES } from "./limits.js";
import { formatSize } from "./sizes.js";
import { utf8Bytes } from "./text-cut.js";

type PathKey = string | number;

/** `checks[2].podman.state` */
export function formatPath(path: readonly PathKey[]): string {
  let out = "";
  for (const key of path) out += typeof key === "number" ? `[${key}]` : out ? `.${key}` : key;
  return out || "(top level)";
}

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

function describe(issue: z.core.$ZodIssue): string {
  const seen = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "invalid_type":
      return seen === undefined ? `required ${issue.expected} is missing` : `expected ${issue.expected}, got ${show(seen)}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => String(v)).join("|")}, got ${show(seen)}`;
    case "unrecognized_keys":
      // Schemas may set their own message (e.g. "unknown check kind"); zod's default is generic.
      return issue.message.startsWith("Unrecognized key") ? `unknown key "${issue.keys[0]}"` : issue.message;
    case "invalid_format":
      return `${issue.message}, got ${show(seen)}`;
    case "invalid_union":
      // A discriminated union (a stage's `kind`) reports the whole object as its input; the
      // person needs the value of the field it switches on, which 60 characters may cut off.
      if (issue.discriminator !== undefined && "options" in issue && issue.options?.length) {
        const tag = seen && typeof seen === "object" ? (seen as Record<string, unknown>)[issue.discriminator] : undefined;
        const kinds = issue.options.map((v) => String(v)).join("|");
        return tag === undefined ? `required one of ${kinds} is missing` : `expected one of ${kinds}, got ${show(tag)}`;
      }
      return `${issue.message === "Invalid input" ? "not a valid value" : issue.message}, got ${show(seen)}`;
    default:
      return issue.message;
  }
}

/** Finds the YAML node for `path`, or the nearest ancestor that exists. */
function locate(doc: Document, path: readonly PathKey[], lines: LineCounter, file: string, keyName?: string): SourceRef {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as Node | undefined;
    if (!node || !node.range) continue;
    let offset = node.range[0];
    // Point at the offending key itself for unknown keys.
    if (keyName !== undefined && depth === path.length && isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === keyName);
      if (pair && isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
    }
    const pos = lines.linePos(offset);
    return { file, line: pos.line, col: pos.col };
  }
  return { file, line: 1, col: 1 };
}

/** One problem found in a user file. */
export interface Problem {
  where: SourceRef;
  path: string;
  message: string;
}

export function problemsError(problems: Problem[]): FleetgateError {
  const [first, ...rest] = problems;
  if (!first) return new FleetgateError("bad_input", "invalid input");
  const lines = [`${first.path}: ${first.message}`];
  for (const p of rest) lines.push(`${p.where.file}:${p.where.line}:${p.where.col} ${p.path}: ${p.message}`);
  return new FleetgateError("bad_input", lines.join("\n"), first.where);
}

/** A parsed YAML file that can point back into its own text. */
export class YamlSource {
  private constructor(
    readonly file: string,
    readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  static parse(text: string, file: string): YamlSource {
    const bytes = utf8Bytes(text);
    if (bytes > MAX_YAML_BYTES) {
      throw new FleetgateError(
        "bad_input",
        `${bytes} bytes, more than the ${formatSize(MAX_YAML_BYTES)} (${MAX_YAML_BYTES} bytes) a suite, plan or config file may be (shared/model/limits.ts); split it into smaller suites`,
        { file, line: 1, col: 1 },
      );
    }
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const errors = doc.errors.map((e): Problem => {
      // With prettyErrors off, yaml leaves linePos unset; the offset in `pos` is always there.
      const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
      return { where: { file, line: pos.line, col: pos.col }, path: "yaml", message: e.message.split("\n")[0] ?? e.message };
    });
    if (errors.length) throw problemsError(errors);
    return new YamlSource(file, doc, lines);
  }

  where(path: readonly PathKey[]): SourceRef {
    return locate(this.doc, path, this.lines, this.file);
  }

  problem(path: readonly PathKey[], message: string): Problem {
    return { where: this.where(path), path: formatPath(path), message };
  }

  /** Validates the document; throws one FleetgateError listing every problem with its line. */
  validate<S extends z.ZodType>(schema: S): z.infer<S> {
    const data: unknown = this.doc.toJS() ?? {};
    const result = schema.safeParse(data, { reportInput: true });
    if (result.success) return result.data;
    // An unknown key (often a check kind this agent lacks) explains its object's other complaints.
    const withUnknownKeys = new Set(result.error.issues.filter((i) => i.code === "unrecognized_keys").map((i) => formatPath(i.path as PathKey[])));
    const issues = result.error.issues.filter((i) => i.code !== "custom" || !withUnknownKeys.has(formatPath(i.path as PathKey[])));
    const problems = issues.map((issue): Problem => {
      const path = issue.path as PathKey[];
      if (issue.code === "unrecognized_keys") {
        const key = issue.keys[0] ?? "";
        return { where: locate(this.doc, path, this.lines, this.file, key), path: formatPath([...path, key]), message: describe(issue) };
      }
      return { where: this.where(path), path: formatPath(path), message: describe(issue) };
    });
    problems.sort((a, b) => a.where.line - b.where.line || a.where.col - b.where.col);
    throw problemsError(problems);
  }
}
