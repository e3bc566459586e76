import { describe, expect, it } from "vitest";
import { checkNumberBounds, NumberBoundsSchema, showMeasured } from "../../shared/model/bounds.js";
import { FleetgateError } from "../../shared/errors.js";
import { checkSizeBounds, formatSize, parseSize, SizeBoundsSchema, SizeSchema } from "../../shared/model/sizes.js";

const GiB = 2 ** 30;

describe("parseSize", () => {
  it("reads binary units as powers of 1024", () => {
    expect(parseSize("10GiB")).toBe(10 * GiB);
    expect(parseSize("500MiB")).toBe(500 * 2 ** 20);
    expect(parseSize("4KiB")).toBe(4096);
    expect(parseSize("2TiB")).toBe(2 * 2 ** 40);
  });

  it("reads decimal units as powers of 1000, fractions included", () => {
    expect(parseSize("1.5TB")).toBe(1_500_000_000_000);
    expect(parseSize("10GB")).toBe(10_000_000_000);
    expect(parseSize("500MB")).toBe(500_000_000);
    expect(parseSize("2KB")).toBe(2000);
  });

  it("reads a plain number, or numeric text, as bytes", () => {
    expect(parseSize(4096)).toBe(4096);
    expect(parseSize("4096")).toBe(4096);
    expect(parseSize("10 GiB")).toBe(10 * GiB);
  });

  it("refuses other spellings with a bad_input error that shows the accepted form", () => {
    for (const bad of ["10gib", "10Gb", "10 PB", "ten", "-1", "", "GiB"]) {
      expect(() => parseSize(bad)).toThrow(FleetgateError);
      expect(() => parseSize(bad)).toThrow(/expected a size like 10GiB, 500MiB, 1.5TB/);
    }
    expect(() => parseSize(-5)).toThrow(FleetgateError);
  });
});

describe("size schemas", () => {
  it("accepts sizes as text or numbers and explains a bad one", () => {
    expect(SizeSchema.safeParse("10GiB").success).toBe(true);
    expect(SizeSchema.safeParse(1024).success).toBe(true);
    const bad = SizeSchema.safeParse("10gigs");
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain("expected a size like 10GiB");
  });

  it("takes one or more of gte, lte, gt, lt and nothing else", () => {
    expect(SizeBoundsSchema.safeParse({ gte: "10GiB" }).success).toBe(true);
    expect(SizeBoundsSchema.safeParse({ gte: "1GiB", lt: "1TB" }).success).toBe(true);
    expect(SizeBoundsSchema.safeParse({}).success).toBe(false);
    expect(SizeBoundsSchema.safeParse({ eq: "1GiB" }).success).toBe(false);
    expect(NumberBoundsSchema.safeParse({ lte: "4" }).success).toBe(false);
  });
});

describe("formatSize", () => {
  it("uses the largest binary unit, one decimal, no trailing .0", () => {
    expect(formatSize(3.2 * GiB)).toBe("3.2 GiB");
    expect(formatSize(10 * GiB)).toBe("10 GiB");
    expect(formatSize(1536)).toBe("1.5 KiB");
    expect(formatSize(512)).toBe("512 B");
  });

  it("uses decimal units when asked", () => {
    expect(formatSize(1_500_000_000_000, "decimal")).toBe("1.5 TB");
    expect(formatSize(999, "decimal")).toBe("999 B");
  });
});

describe("checkSizeBounds", () => {
  it("says what was expected and what was seen, in the units of the bound", () => {
    expect(checkSizeBounds({ gte: "10GiB" }, 3.2 * GiB)).toEqual({ ok: false, expected: ">= 10 GiB", seen: "3.2 GiB" });
    expect(checkSizeBounds({ gte: "1.5TB" }, 1_200_000_000_000)).toEqual({ ok: false, expected: ">= 1.5 TB", seen: "1.2 TB" });
    expect(checkSizeBounds({ gte: 1024 }, 100)).toEqual({ ok: false, expected: ">= 1 KiB", seen: "100 B" });
  });

  it("adds the exact bytes when rounding would make a failure read like a pass", () => {
    expect(checkSizeBounds({ gte: "10GiB" }, 10 * GiB - 1)).toEqual({ ok: false, expected: ">= 10 GiB", seen: `10 GiB (${10 * GiB - 1} bytes)` });
  });

  it("passes only when every bound holds", () => {
    expect(checkSizeBounds({ gte: "1GiB", lte: "2GiB" }, 1.5 * GiB)).toEqual({ ok: true, expected: ">= 1 GiB and <= 2 GiB", seen: "1.5 GiB" });
    expect(checkSizeBounds({ gte: "1GiB", lte: "2GiB" }, 3 * GiB).expected).toBe("<= 2 GiB");
    expect(checkSizeBounds({ gt: "1GiB" }, GiB).ok).toBe(false);
    expect(checkSizeBounds({ lt: "1GiB" }, GiB - 1).ok).toBe(true);
  });
});

describe("number bounds", () => {
  it("compares a measured number and rounds it for reading unless that hides a failure", () => {
    const over = checkNumberBounds({ lte: 4 }, 5.1234);
    expect(over).toEqual({ ok: false, expected: "<= 4" });
    expect(showMeasured(5.1234, over)).toBe("5.12");
    const barely = checkNumberBounds({ lte: 4 }, 4.001);
    expect(showMeasured(4.001, barely)).toBe("4.001");
  });
});
