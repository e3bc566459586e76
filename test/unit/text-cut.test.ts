import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OutputTail, runProcess } from "../../agent/process.js";
import { decodeTail, keepHead, keepTail, utf8Bytes } from "../../shared/model/text-cut.js";

const MARKER = /^\[… (\d+) bytes cut …\]\n/;
const cutCount = (text: string) => Number(MARKER.exec(text)?.[1]);
const body = (text: string) => text.replace(MARKER, "");

/** Characters of every UTF-8 width, U+FFFD itself and lone surrogates. */
const tricky = fc.constantFrom("a", "\n", "é", "€", "\uFFFD", "😀", "\uD800", "\uDC00", "z");
const trickyText = fc.array(tricky, { maxLength: 400 }).map((cs) => cs.join(""));

describe("decodeTail: a process's raw output as text bounded in UTF-8 bytes", () => {
  it("keeps 3 MB of invalid UTF-8 within the limit after decoding, and counts every byte not shown", () => {
    const raw = Buffer.alloc(3_000_000, 0xff);
    const text = decodeTail(raw, 1024 * 1024);
    expect(utf8Bytes(text)).toBeLessThanOrEqual(1024 * 1024);
    expect(utf8Bytes(text)).toBeGreaterThan(1024 * 1024 - 100);
    const shown = body(text);
    expect(shown).toMatch(/^\uFFFD+$/);
    // One U+FFFD per invalid byte: shown + cut is the whole output.
    expect(cutCount(text) + shown.length).toBe(3_000_000);
  });

  it("cuts before a multi-byte character, never inside it, and keeps the end", () => {
    const original = "start " + "é€😀".repeat(1000) + " the end";
    for (let limit = 60; limit < 80; limit++) {
      const text = decodeTail(Buffer.from(original), limit);
      expect(utf8Bytes(text)).toBeLessThanOrEqual(limit);
      expect(body(text)).not.toContain("\uFFFD");
      expect(original.endsWith(body(text))).toBe(true);
      expect(body(text).endsWith("😀 the end")).toBe(true);
      expect(cutCount(text)).toBe(Buffer.byteLength(original) - utf8Bytes(body(text)));
    }
  });

  it("leaves output within the limit as it was, with no marker", () => {
    expect(decodeTail(Buffer.from("ok\n"), 100)).toBe("ok\n");
    expect(decodeTail(Buffer.from([0x61, 0xff, 0x62]), 100)).toBe("a\uFFFDb");
  });

  it("adds bytes dropped before the buffer to the count, and skips a character's stranded continuation bytes", () => {
    const euro = Buffer.from("€€"); // e2 82 ac e2 82 ac
    const text = decodeTail(euro.subarray(1), 100, 1);
    expect(text).toBe("[… 3 bytes cut …]\n€");
  });

  it("stays within any limit for any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 0, max: 3000 }), fc.nat(10_000), (raw, limit, dropped) => {
        expect(utf8Bytes(decodeTail(raw, limit, dropped))).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 500 },
    );
  });

  it("keeps the end of valid UTF-8 exactly, and says how much was cut", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), fc.integer({ min: 40, max: 400 }), (s, limit) => {
        const text = decodeTail(Buffer.from(s), limit);
        expect(utf8Bytes(text)).toBeLessThanOrEqual(limit);
        if (Buffer.byteLength(s) <= limit) {
          expect(text).toBe(s);
          return;
        }
        expect(s.endsWith(body(text))).toBe(true);
        expect(cutCount(text) + utf8Bytes(body(text))).toBe(Buffer.byteLength(s));
      }),
    );
  });
});

describe("keepTail and keepHead: text cut to a UTF-8 budget on a character boundary", () => {
  it("keeps the end within the budget with a marker, whatever the characters", () => {
    fc.assert(
      fc.property(trickyText, fc.integer({ min: 0, max: 600 }), (s, limit) => {
        const text = keepTail(s, limit);
        expect(utf8Bytes(text)).toBeLessThanOrEqual(limit);
        if (utf8Bytes(s) <= limit) {
          expect(text).toBe(s);
          return;
        }
        expect(s.endsWith(body(text))).toBe(true);
        if (MARKER.test(text)) expect(cutCount(text) + utf8Bytes(body(text))).toBe(utf8Bytes(s));
      }),
      { numRuns: 500 },
    );
  });

  it("keeps the start within the budget, the marker at the end", () => {
    fc.assert(
      fc.property(trickyText, fc.integer({ min: 0, max: 600 }), (s, limit) => {
        const text = keepHead(s, limit);
        expect(utf8Bytes(text)).toBeLessThanOrEqual(limit);
        if (utf8Bytes(s) <= limit) {
          expect(text).toBe(s);
          return;
        }
        const m = / \[… (\d+) bytes cut …\]$/.exec(text);
        const head = m ? text.slice(0, m.index) : text;
        expect(s.startsWith(head)).toBe(true);
        if (m) expect(Number(m[1]) + utf8Bytes(head)).toBe(utf8Bytes(s));
      }),
      { numRuns: 500 },
    );
  });

  it("never splits a surrogate pair", () => {
    const s = "😀".repeat(100);
    for (let limit = 30; limit < 40; limit++) {
      expect(body(keepTail(s, limit))).toMatch(/^(😀)*$/u);
      expect(keepHead(s, limit)).toMatch(/^(😀)* \[… \d+ bytes cut …\]$/u);
    }
  });

  it("cut twice, shows one marker counting both cuts", () => {
    const s = "x".repeat(10_000);
    const once = keepTail(s, 1000);
    const twice = keepTail(once, 100);
    expect(twice.match(/bytes cut/g)).toHaveLength(1);
    expect(cutCount(twice) + body(twice).length).toBe(10_000);
  });
});

describe("OutputTail and runProcess bound output in UTF-8 bytes", () => {
  it("does not split a character where the kept bytes begin", () => {
    const tail = new OutputTail(40);
    tail.push(Buffer.from("a" + "€".repeat(20)));
    const text = tail.text();
    expect(utf8Bytes(text)).toBeLessThanOrEqual(40);
    expect(body(text)).toMatch(/^€+$/);
    expect(cutCount(text) + utf8Bytes(body(text))).toBe(61);
  });

  it("keeps a check's non-UTF-8 output within maxOutputBytes once decoded, on stdout and stderr", async () => {
    const out = await runProcess({
      argv: ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' '\\377'; head -c 300000 /dev/zero | tr '\\0' '\\377' >&2"],
      timeoutMs: 10_000,
      maxOutputBytes: 64 * 1024,
    });
    for (const text of [out.stdout, out.stderr]) {
      expect(utf8Bytes(text)).toBeLessThanOrEqual(64 * 1024);
      expect(body(text)).toMatch(/^\uFFFD+$/);
      expect(cutCount(text) + body(text).length).toBe(300_000);
    }
  });
});
