import { describe, expect, it } from "vitest";
import { match, MatcherSchema, preview } from "../../shared/model/matchers.js";

describe("match: a plain value means equal", () => {
  it("accepts the same number, string, boolean and null", () => {
    expect(match(0, 0)).toEqual({ ok: true, expected: "0" });
    expect(match("active", "active")).toEqual({ ok: true, expected: '"active"' });
    expect(match(true, true).ok).toBe(true);
    expect(match(null, null).ok).toBe(true);
  });

  it("refuses a different value", () => {
    expect(match(0, 1)).toEqual({ ok: false, expected: "0" });
    expect(match("active", "inactive").ok).toBe(false);
    expect(match(0, null).ok).toBe(false);
    expect(match(0, "").ok).toBe(false);
  });

  it("reads a number or boolean written in YAML as the same text in a tool's output", () => {
    expect(match(200, "200").ok).toBe(true);
    expect(match(42, "42\n").ok).toBe(true);
    expect(match(42, "420").ok).toBe(false);
    expect(match(true, "true").ok).toBe(true);
    expect(match("200", 200).ok).toBe(false);
  });

  it("compares arrays element by element", () => {
    expect(match(["a", "b"], ["a", "b"]).ok).toBe(true);
    expect(match(["a", "b"], ["b", "a"]).ok).toBe(false);
  });
});

describe("match: operators", () => {
  it("compares numbers with gte, lte, gt and lt, on numbers and numeric text", () => {
    expect(match({ gte: 800_000 }, 800_000)).toEqual({ ok: true, expected: ">= 800000" });
    expect(match({ gte: 800_000 }, 799_999).ok).toBe(false);
    expect(match({ lte: 2 }, "2")).toEqual({ ok: true, expected: "<= 2" });
    expect(match({ gt: 0 }, 0)).toEqual({ ok: false, expected: "> 0" });
    expect(match({ lt: 1.5 }, " 1.25 ").ok).toBe(true);
  });

  it("never treats non-numeric or empty text as a number", () => {
    expect(match({ gte: 0 }, "synced").ok).toBe(false);
    expect(match({ lte: 0 }, "").ok).toBe(false);
    expect(match({ lte: 0 }, "   ").ok).toBe(false);
    expect(match({ gte: 0 }, null).ok).toBe(false);
  });

  it("finds a regular expression on any line of the text with matches", () => {
    const status = "Loaded: loaded\nActive: active (running)";
    expect(match({ matches: "^Active: active" }, status)).toEqual({ ok: true, expected: "matching /^Active: active/" });
    expect(match({ matches: "^Active: failed" }, status).ok).toBe(false);
    expect(match({ matches: "^2\\d\\d$" }, 204).ok).toBe(true);
    expect(match({ matches: "1" }, null).ok).toBe(false);
  });

  it("looks for a substring with contains", () => {
    expect(match({ contains: "ok" }, "all ok here")).toEqual({ ok: true, expected: 'containing "ok"' });
    expect(match({ contains: "ok" }, "failed").ok).toBe(false);
  });

  it("accepts any listed value with one_of, with types kept", () => {
    expect(match({ one_of: [0, 3] }, 3)).toEqual({ ok: true, expected: "one of [0,3]" });
    expect(match({ one_of: [0, 3] }, 4).ok).toBe(false);
    expect(match({ one_of: ["0"] }, 0).ok).toBe(false);
  });
});

describe("MatcherSchema", () => {
  it("accepts a plain value, a list, or an object with exactly one operator", () => {
    for (const m of [0, "x", true, null, [1, 2], { gte: 1 }, { matches: "^a" }, { one_of: [1, "a"] }]) {
      expect(MatcherSchema.safeParse(m).success).toBe(true);
    }
  });

  it("refuses an object with two operators, none, or an unknown one", () => {
    for (const m of [{ gte: 0, lte: 2 }, {}, { startswith: "a" }]) {
      expect(MatcherSchema.safeParse(m).success).toBe(false);
    }
  });

  it("refuses a numeric operator given text", () => {
    expect(MatcherSchema.safeParse({ gte: "10" }).success).toBe(false);
  });
});

describe("preview", () => {
  it("quotes text and keeps one line one line", () => {
    expect(preview("a\nb")).toBe('"a\\nb"');
  });

  it("cuts long values to the limit with an ellipsis", () => {
    const out = preview("x".repeat(200), 20);
    expect(out).toHaveLength(20);
    expect(out.endsWith("…")).toBe(true);
    expect(out.startsWith('"xxx')).toBe(true);
  });

  it("shows non-text values as JSON", () => {
    expect(preview({ a: 1 })).toBe('{"a":1}');
    expect(preview(null)).toBe("null");
    expect(preview(undefined)).toBe("undefined");
  });
});

describe("MatcherSchema", () => {
  it("refuses a regular expression that does not compile, before anything runs", () => {
    const r = MatcherSchema.safeParse({ matches: "([unclosed" });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toBe("not a valid regular expression: /([unclosed/m: Unterminated character class");
  });
});
