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
  ])("reads %j as %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["5 minutes", "10", "s", "-5s", "1w", "1h30m", ""])("refuses %j as bad input naming what it expected", (text) => {
    const err = catchError(() => parseDuration(text));
    expect(err).toBeInstanceOf(FleetgateError);
    expect(err.code).toBe("bad_input");
    expect(err.message).toBe(`expected a duration like 500ms, 30s, 5m, 1h; got "${text}"`);
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
