// What a zod issue means to the person who wrote the YAML: "expected …, got …", the keys that
// are valid where an unknown one was written and the one it most likely meant, and "quote it"
// when YAML read a word or number as something else than the string the field takes.
import type { z } from "zod";
import { didYouMean } from "./suggest.js";

export type PathKey = string | number;

/** What the source text of a value looked like, for "YAML reads 0600 as a number". */
export type SourceTextAt = (path: readonly PathKey[]) => string | undefined;

export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

/** "boolean true (YAML reads true as a boolean: quote it, "true")" for a non-string where a string belongs. */
function seenWithQuoteHint(seen: unknown, written: string | undefined): string {
  if (seen === null) return `nothing (the key has no value${written === "" || written === undefined ? "" : `: YAML reads ${written} as null`}; write "" for an empty string)`;
  if (typeof seen !== "boolean" && typeof seen !== "number") return show(seen);
  const kind = typeof seen;
  const text = written?.trim() || String(seen);
  return `${kind} ${show(seen)} (YAML reads ${text} as a ${kind}: quote it, ${JSON.stringify(text)})`;
}

// zod's own messages start like this; a schema's custom message says more and is kept.
const isDefaultMessage = (m: string) => /^(Invalid input|Invalid option|Too (big|small)|Unrecognized key)/.test(m);

type Def = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; element?: z.ZodType; valueType?: z.ZodType; getter?: () => z.ZodType; options?: z.ZodType[]; in?: z.ZodType };
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object schemas a value at `path` may be validated by (several under a union). */
function objectsAt(schema: z.ZodType, path: readonly PathKey[]): Record<string, z.ZodType>[] {
  const def = defOf(schema);
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
    case "nonoptional":
      return objectsAt(def.innerType as z.ZodType, path);
    case "pipe":
      return objectsAt(def.in as z.ZodType, path);
    case "lazy":
      return objectsAt((def.getter as () => z.ZodType)(), path);
    case "union":
      return (def.options ?? []).flatMap((o) => objectsAt(o, path));
    case "array":
      return typeof path[0] === "number" ? objectsAt(def.element as z.ZodType, path.slice(1)) : [];
    case "record":
      return path.length ? objectsAt(def.valueType as z.ZodType, path.slice(1)) : [];
    case "object": {
      const shape = def.shape as Record<string, z.ZodType>;
      if (!path.length) return [shape];
      const next = shape[String(path[0])];
      return next ? objectsAt(next, path.slice(1)) : [];
    }
    default:
      return [];
  }
}

/** A discriminated union's branch whose literal field (`kind: fleet`) the written object contradicts. */
function contradicts(shape: Record<string, z.ZodType>, written: Record<string, unknown>): boolean {
  return Object.entries(shape).some(([key, field]) => {
    const def = defOf(field) as Def & { values?: unknown[] };
    return def.type === "literal" && key in written && !(def.values ?? []).includes(written[key]);
  });
}

/** The keys valid in the object at `path`; of a union's objects, the one the written object fits best. */
export function keysAt(schema: z.ZodType, path: readonly PathKey[], written: unknown): string[] {
  const object = written && typeof written === "object" && !Array.isArray(written) ? (written as Record<string, unknown>) : {};
  const shapes = objectsAt(schema, path).filter((s) => !contradicts(s, object));
  const fit = (s: Record<string, z.ZodType>) => Object.keys(object).filter((k) => k in s).length;
  const best = shapes.sort((a, b) => fit(b) - fit(a))[0];
  return best ? Object.keys(best) : [];
}

/** Text for one issue; `root` (the whole schema) lets an unknown key list the valid ones. */
export function describeIssue(issue: z.core.$ZodIssue, root: z.ZodType, textAt: SourceTextAt): string {
  const seen = (issue as { input?: unknown }).input;
  const path = issue.path as PathKey[];
  switch (issue.code) {
    case "invalid_type": {
      if (seen === undefined) return `required ${issue.expected} is missing`;
      // A schema's own message may already say what it saw ("got 30, a number without a unit").
      if (!isDefaultMessage(issue.message) && issue.message.includes(", got ")) return issue.message;
      const expected = isDefaultMessage(issue.message) ? `expected ${issue.expected}` : issue.message;
      const got = issue.expected === "string" ? seenWithQuoteHint(seen, textAt(path)) : seen === null ? "nothing (the key has no value)" : show(seen);
      // YAML 1.1 read yes/no/on/off as booleans; YAML 1.2 (this parser) keeps them as text.
      const word = issue.expected === "boolean" && typeof seen === "string" && /^(y|yes|n|no|on|off|true|false)$/i.test(seen);
      const quoted = /^["']/.test(textAt(path) ?? "");
      const hint = !word ? "" : quoted ? " (write true or false, unquoted)" : ` (YAML 1.2 reads ${seen} as text: write true or false)`;
      return `${expected}, got ${got}${hint}`;
    }
    case "invalid_value": {
      const values = issue.values.map((v) => String(v));
      const hint = typeof seen === "string" ? didYouMean(seen, values) : "";
      return `expected one of ${values.join("|")}, got ${show(seen)}${hint}`;
    }
    case "unrecognized_keys": {
      const key = issue.keys[0] ?? "";
      const valid = keysAt(root, path, seen);
      const hint = didYouMean(key, valid);
      // Schemas may set their own message (e.g. "unknown check kind or field"); zod's default is generic.
      if (!isDefaultMessage(issue.message)) return `${issue.message}${hint}`;
      return `unknown key "${key}"${valid.length ? ` (valid: ${valid.join(", ")})` : ""}${hint}`;
    }
    case "invalid_format":
      return `${issue.message}, got ${show(seen)}`;
    case "invalid_union":
      return describeUnion(issue, seen);
    case "too_small":
    case "too_big":
      return isDefaultMessage(issue.message) ? describeBound(issue, seen) : issue.message;
    default:
      return issue.message;
  }
}

function describeUnion(issue: z.core.$ZodIssueInvalidUnion, seen: unknown): string {
  // A discriminated union (a stage's `kind`) reports the whole object as its input; the
  // person needs the value of the field it switches on, which 60 characters may cut off.
  if (issue.discriminator !== undefined && "options" in issue && issue.options?.length) {
    const tag = seen && typeof seen === "object" ? (seen as Record<string, unknown>)[issue.discriminator] : undefined;
    const kinds = issue.options.map((v) => String(v));
    return tag === undefined ? `required one of ${kinds.join("|")} is missing` : `expected one of ${kinds.join("|")}, got ${show(tag)}${typeof tag === "string" ? didYouMean(tag, kinds) : ""}`;
  }
  if (!isDefaultMessage(issue.message)) return issue.message.includes(", got ") ? issue.message : `${issue.message}, got ${show(seen)}`;
  return seen === undefined ? "required value is missing" : `not a valid value, got ${show(seen)}`;
}

/** "expected a number >= 0, got -1", "expected at least 1 item, got 0". */
function describeBound(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig, seen: unknown): string {
  const small = issue.code === "too_small";
  const limit = small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum;
  const inclusive = issue.inclusive !== false;
  const op = small ? (inclusive ? ">=" : ">") : inclusive ? "<=" : "<";
  const count = (unit: string, n: number | bigint) => `${n} ${unit}${Number(n) === 1 ? "" : "s"}`;
  switch (issue.origin) {
    case "array":
    case "set":
      return `expected ${small ? "at least" : "at most"} ${count("item", Number(limit))}, got ${Array.isArray(seen) ? seen.length : show(seen)}`;
    case "string":
      return `expected ${small ? "at least" : "at most"} ${count("character", Number(limit))}, got ${show(seen)}`;
    default:
      return `expected a number ${op} ${limit}, got ${show(seen)}`;
  }
}

/**
 * Of a union that failed, the issue of the branch whose type the value has (a matcher written as
 * a map is the operator branch), with its full path: it says what is wrong, the others only say
 * "not a string". The union's own issue when no single branch fits.
 */
export function effectiveIssue(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== "invalid_union" || issue.discriminator !== undefined || !isDefaultMessage(issue.message)) return issue;
  const typeMismatch = (i: z.core.$ZodIssue) => i.path.length === 0 && (i.code === "invalid_type" || i.code === "invalid_union");
  // Of the branches of the value's type, the one it is shaped like: fewest unknown or missing keys.
  const misfit = (errs: z.core.$ZodIssue[]) => errs.filter((i) => i.code === "unrecognized_keys" || (i.code === "invalid_type" && (i as { input?: unknown }).input === undefined)).length;
  const fitting = (issue.errors ?? []).filter((errs) => errs.length && !errs.every(typeMismatch)).sort((a, b) => misfit(a) - misfit(b));
  const [branch, runnerUp] = fitting;
  if (!branch || (runnerUp && misfit(runnerUp) === misfit(branch))) return issue;
  const first = (branch.find((i) => i.code === "unrecognized_keys") ?? branch[0]) as z.core.$ZodIssue;
  const input = first.path.length === 0 ? (issue as { input?: unknown }).input : (first as { input?: unknown }).input;
  return effectiveIssue({ ...first, input, path: [...issue.path, ...first.path] } as z.core.$ZodIssue);
}
