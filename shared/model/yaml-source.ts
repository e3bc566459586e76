// Parses a YAML file and validates it against a zod schema, reporting every problem as
// `file:line:col path: what was expected, what was seen` (DESIGN rule 5).
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type { z } from "zod";
import { FleetgateError, type SourceRef } from "../errors.js";
import { describeIssue, effectiveIssue, keysAt, type PathKey } from "./issue-text.js";
import { closest } from "./suggest.js";
import { syntaxError } from "./yaml-syntax.js";
import { MAX_YAML_BYTES } from "./limits.js";
import { formatSize } from "./sizes.js";
import { utf8Bytes } from "./text-cut.js";

export type { PathKey };

/** `checks[2].podman.state` */
export function formatPath(path: readonly PathKey[]): string {
  let out = "";
  for (const key of path) out += typeof key === "number" ? `[${key}]` : out ? `.${key}` : key;
  return out || "(top level)";
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
    private readonly text: string,
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
    // One message: the parser's first complaint; the ones after it follow from it.
    const first = doc.errors[0];
    if (first) throw syntaxError(first, text, lines, file);
    return new YamlSource(file, doc, lines, text);
  }

  /** The text a scalar at `path` was written as (`0600`, `yes`), when it is a scalar. */
  sourceText(path: readonly PathKey[]): string | undefined {
    const node = this.doc.getIn(path, true) as Node | undefined;
    return node && isScalar(node) && node.range ? this.text.slice(node.range[0], node.range[1]) : undefined;
  }

  /** Where `needle` is written inside the value at `path` (a `${vars.x}` in a string), else the value. */
  whereIn(path: readonly PathKey[], needle: string): SourceRef {
    const node = this.doc.getIn(path, true) as Node | undefined;
    if (node && isScalar(node) && node.range) {
      const at = this.text.slice(node.range[0], node.range[1]).indexOf(needle);
      if (at >= 0) {
        const pos = this.lines.linePos(node.range[0] + at);
        return { file: this.file, line: pos.line, col: pos.col };
      }
    }
    return this.where(path);
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
    // A misspelt key (`check:`) explains the missing one it meant (`checks`): say only the first.
    const meant = new Set(
      result.error.issues.flatMap((i) => {
        if (i.code !== "unrecognized_keys") return [];
        const key = closest(i.keys[0] ?? "", keysAt(schema, i.path as PathKey[], (i as { input?: unknown }).input));
        return key ? [formatPath([...(i.path as PathKey[]), key])] : [];
      }),
    );
    const missing = (i: z.core.$ZodIssue) => i.code === "invalid_type" && (i as { input?: unknown }).input === undefined;
    const issues = result.error.issues.filter(
      (i) => (i.code !== "custom" || !withUnknownKeys.has(formatPath(i.path as PathKey[]))) && !(missing(i) && meant.has(formatPath(i.path as PathKey[]))),
    );
    const textAt = (path: readonly PathKey[]) => this.sourceText(path);
    // zod puts every unknown key of an object in one issue; each gets its own line and position.
    const oneKeyEach = (i: z.core.$ZodIssue): z.core.$ZodIssue[] => (i.code === "unrecognized_keys" ? i.keys.map((k) => ({ ...i, keys: [k] })) : [i]);
    const problems = issues.map(effectiveIssue).flatMap(oneKeyEach).map((issue): Problem => {
      const path = issue.path as PathKey[];
      const message = describeIssue(issue, schema, textAt);
      if (issue.code === "unrecognized_keys") {
        const key = issue.keys[0] ?? "";
        return { where: locate(this.doc, path, this.lines, this.file, key), path: formatPath([...path, key]), message };
      }
      // A message about a `${ref}` points at the reference inside its string, not at the string.
      const ref = /^\$\{[^}]+\}/.exec(message)?.[0];
      return { where: ref ? this.whereIn(path, ref) : this.where(path), path: formatPath(path), message };
    });
    problems.sort((a, b) => a.where.line - b.where.line || a.where.col - b.where.col);
    throw problemsError(problems);
  }
}
