// SQLite's parameters in PostgreSQL's words (issue 19): the store's statements are written once,
// with `?` (positional) or `@name` (from an object, as better-sqlite3 binds them), and run on
// either engine. PostgreSQL numbers its parameters: `$1`, `$2` … Pure, so it is tested alone.
import { FleetgateError } from "../../../shared/errors.js";

export interface PgText {
  /** The statement with `$n` parameters. */
  text: string;
  /** How to bind: n positional parameters, or the names in `$n` order (a name used twice is one parameter). */
  bind: { kind: "positional"; count: number } | { kind: "named"; names: string[] };
}

/**
 * Rewrites `?` and `@name` outside string literals, quoted identifiers and comments. A statement
 * mixing both is refused, as better-sqlite3 refuses it. `?` followed by a digit (SQLite's `?1`)
 * is not used by the store and is refused rather than misread.
 */
export function toPgText(sql: string): PgText {
  let out = "";
  let positional = 0;
  const names: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const quoteEnd = c === "'" || c === '"' ? closing(sql, i, c) : c === "-" && sql[i + 1] === "-" ? lineEnd(sql, i) : c === "/" && sql[i + 1] === "*" ? commentEnd(sql, i) : -1;
    if (quoteEnd >= 0) {
      out += sql.slice(i, quoteEnd);
      i = quoteEnd;
      continue;
    }
    if (c === "?") {
      if (/\d/.test(sql[i + 1] ?? "")) throw new FleetgateError("internal", `numbered parameter ?${sql[i + 1]} is not supported: ${sql}`);
      positional += 1;
      out += `$${positional}`;
      i += 1;
      continue;
    }
    const named = c === "@" ? /^@([A-Za-z_][A-Za-z0-9_]*)/.exec(sql.slice(i)) : null;
    if (named) {
      const name = named[1]!;
      let index = names.indexOf(name);
      if (index < 0) index = names.push(name) - 1;
      out += `$${index + 1}`;
      i += named[0].length;
      continue;
    }
    out += c;
    i += 1;
  }
  if (positional && names.length) throw new FleetgateError("internal", `a statement mixes ? and @name parameters: ${sql}`);
  if (/\bINSERT\s+OR\s+(IGNORE|REPLACE)\b/i.test(out)) throw new FleetgateError("internal", `INSERT OR … is SQLite's alone; write ON CONFLICT …: ${sql}`);
  return { text: out, bind: names.length ? { kind: "named", names } : { kind: "positional", count: positional } };
}

/** The values for `$1…$n`, from the arguments a better-sqlite3 statement would take. */
export function bindValues(bind: PgText["bind"], args: unknown[], sql: string): unknown[] {
  if (bind.kind === "named") {
    const source = args[0];
    if (args.length !== 1 || typeof source !== "object" || source === null) throw new FleetgateError("internal", `a statement with @name parameters takes one object: ${sql}`);
    return bind.names.map((name) => {
      if (!(name in source)) throw new FleetgateError("internal", `missing named parameter @${name}: ${sql}`);
      return pgValue((source as Record<string, unknown>)[name]);
    });
  }
  // better-sqlite3 spreads arrays given as arguments: run(a, [b, c]) binds a, b, c.
  const flat = args.flatMap((a) => (Array.isArray(a) ? a : [a]));
  if (flat.length !== bind.count) throw new FleetgateError("internal", `${bind.count} parameters expected, ${flat.length} given: ${sql}`);
  return flat.map(pgValue);
}

/**
 * What better-sqlite3 would store: a bigint as its digits, undefined refused, the rest as is, but
 * for U+0000, which PostgreSQL text cannot hold and a check's output may carry: it becomes U+FFFD,
 * the replacement character, as on the batch commit path (pg/agent-events.ts), rather than failing
 * the statement.
 */
function pgValue(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "string" && v.includes("\u0000")) return v.replaceAll("\u0000", "\uFFFD");
  if (v === undefined) throw new FleetgateError("internal", "undefined bound as a statement parameter (use null)");
  if (typeof v === "boolean") throw new FleetgateError("internal", "a boolean bound as a statement parameter: SQLite stores 0 or 1, say which");
  return v;
}

function closing(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2; // a doubled quote is one quote inside the literal
      else return i + 1;
    } else i += 1;
  }
  return sql.length;
}

function lineEnd(sql: string, start: number): number {
  const end = sql.indexOf("\n", start);
  return end < 0 ? sql.length : end;
}

function commentEnd(sql: string, start: number): number {
  const end = sql.indexOf("*/", start + 2);
  return end < 0 ? sql.length : end + 2;
}
