import { describe, expect, it } from "vitest";
import { FleetgateError } from "../../shared/errors.js";
import { humanDuration, parseDuration } from "../../shared/durations.js";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["1.5s", 1_500],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["7d", 604_800_000],
    ["0s", 0],
    [" 2m ", 120_000],
    ["1m30s", 90_000],
    ["1h30m", 5_400_000],
    ["2d12h", 216_000_000],
    ["1s500ms", 1_500],
  ])("reads %j as %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["5 minutes", "s", "-5s", "1w", "1h 30m", ""])("refuses %j as bad input naming what it expected", (text) => {
    const err = catchError(() => parseDuration(text));
    expect(err).toBeInstanceOf(FleetgateError);
    expect(err.code).toBe("bad_input");
    expect(err.message).toBe(`expected a duration like 500ms, 30s, 5m, 1h or 1m30s; got "${text}"`);
  });

  it.each([
    ["5", "5s"],
    ["10", "10s"],
    [" 1.5 ", "1.5s"],
  ])("refuses the bare number %j asking whether it meant %s", (text, meant) => {
    expect(catchError(() => parseDuration(text)).message).toBe(`expected a duration like 500ms, 30s, 5m, 1h or 1m30s; got "${text}", a number without a unit: did you mean ${meant}?`);
  });

  it.each(["30s1m", "1m1m", "5s500ms1s"])("refuses %j: units largest first, each once", (text) => {
    expect(catchError(() => parseDuration(text)).message).toBe(`expected a duration like 500ms, 30s, 5m, 1h or 1m30s, largest unit first and each unit once; got "${text}"`);
  });
});

describe("humanDuration", () => {
  it.each([
    [0, "0 ms"],
    [999, "999 ms"],
    [1_500, "1.5 s"],
    [9_949, "9.9 s"],
    [30_000, "30 s"],
    [90_000, "2 min"],
    [7_200_000, "2 h"],
    [3 * 86_400_000, "3 d"],
    [-7_200_000, "2 h"],
  ])("writes %d ms as %j", (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

function catchError(fn: () => unknown): FleetgateError {
  try {
    fn();
  } catch (err) {
    return err as FleetgateError;
  }
  throw new Error("expected an error, none was thrown");
}
