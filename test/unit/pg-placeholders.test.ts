// The store's statements are written once with SQLite's `?` and `@name` parameters and run on
// PostgreSQL as `$n` (coordinator/store/pg/placeholders.ts): what is rewritten, what is left alone
// (literals, quoted names, comments), and what is refused rather than misread.
import { describe, expect, it } from "vitest";
import { bindValues, toPgText } from "../../coordinator/store/pg/placeholders.js";

describe("toPgText", () => {
  it("numbers ? parameters in order", () => {
    expect(toPgText("SELECT * FROM runs WHERE id = ? AND status = ? LIMIT ?")).toEqual({
      text: "SELECT * FROM runs WHERE id = $1 AND status = $2 LIMIT $3",
      bind: { kind: "positional", count: 3 },
    });
  });

  it("leaves ? and @ alone inside string literals, quoted names and comments", () => {
    const sql = `SELECT '?', 'a@b', "who?" FROM t -- is it ?\nWHERE x = ? /* or @y? */ AND z = '@z'`;
    expect(toPgText(sql)).toEqual({ text: `SELECT '?', 'a@b', "who?" FROM t -- is it ?\nWHERE x = $1 /* or @y? */ AND z = '@z'`, bind: { kind: "positional", count: 1 } });
  });

  it("reads a doubled quote as one quote inside the literal, not its end", () => {
    expect(toPgText("SELECT 'it''s ?' AS q, ? AS v").text).toBe("SELECT 'it''s ?' AS q, $1 AS v");
    expect(toPgText(`SELECT "a""?" FROM t WHERE v = ?`).text).toBe(`SELECT "a""?" FROM t WHERE v = $1`);
  });

  it("gives a name used twice one parameter", () => {
    expect(toPgText("INSERT INTO nodes (name, registered_at, last_seen) VALUES (@name, @now, @now)")).toEqual({
      text: "INSERT INTO nodes (name, registered_at, last_seen) VALUES ($1, $2, $2)",
      bind: { kind: "named", names: ["name", "now"] },
    });
  });

  it("refuses a statement that mixes ? and @name, as better-sqlite3 does", () => {
    expect(() => toPgText("SELECT * FROM t WHERE a = ? AND b = @b")).toThrow(/mixes \? and @name/);
  });

  it("refuses SQLite's numbered ?1 rather than misread it", () => {
    expect(() => toPgText("SELECT ?1")).toThrow(/numbered parameter \?1/);
  });

  it("refuses INSERT OR IGNORE and INSERT OR REPLACE, SQLite's alone", () => {
    expect(() => toPgText("INSERT OR IGNORE INTO t (a) VALUES (?)")).toThrow(/ON CONFLICT/);
    expect(() => toPgText("insert  or\nreplace into t (a) values (?)")).toThrow(/ON CONFLICT/);
    expect(toPgText("INSERT INTO t (a) VALUES (?) ON CONFLICT DO NOTHING").text).toBe("INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING");
  });
});

describe("bindValues", () => {
  it("binds positional arguments, spreading arrays as better-sqlite3 does", () => {
    const { bind } = toPgText("SELECT ?, ?, ?");
    expect(bindValues(bind, ["a", [2, null]], "sql")).toEqual(["a", 2, null]);
  });

  it("binds names from one object in $n order, a bigint as its digits", () => {
    const { bind } = toPgText("SELECT @b, @a, @b");
    expect(bindValues(bind, [{ a: 1, b: 9007199254740993n }], "sql")).toEqual(["9007199254740993", 1]);
  });

  it("refuses a wrong number of positional arguments", () => {
    const { bind } = toPgText("SELECT ?, ?");
    expect(() => bindValues(bind, [1], "SELECT ?, ?")).toThrow("2 parameters expected, 1 given: SELECT ?, ?");
    expect(() => bindValues(bind, [1, 2, 3], "s")).toThrow("2 parameters expected, 3 given");
  });

  it("refuses named parameters given anything but one object, or missing one", () => {
    const { bind } = toPgText("SELECT @a, @b");
    expect(() => bindValues(bind, [1, 2], "s")).toThrow(/takes one object/);
    expect(() => bindValues(bind, [null], "s")).toThrow(/takes one object/);
    expect(() => bindValues(bind, [{ a: 1 }], "s")).toThrow("missing named parameter @b");
  });

  it("binds U+0000, which PostgreSQL text cannot hold, as U+FFFD, and leaves bytes alone", () => {
    const { bind } = toPgText("SELECT ?, ?");
    const bytes = Buffer.from([0, 1]);
    expect(bindValues(bind, ["out\u0000put", bytes], "s")).toEqual(["out\uFFFDput", bytes]);
  });

  it("refuses undefined and booleans, which SQLite would not store as PostgreSQL does", () => {
    const { bind } = toPgText("SELECT ?");
    expect(() => bindValues(bind, [undefined], "s")).toThrow(/undefined bound/);
    expect(() => bindValues(bind, [true], "s")).toThrow(/a boolean bound/);
  });
});
