import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ALL_STATUSES, foldPair, foldStatuses, Status, statusName } from "../../shared/model/status.js";

// The order the table must be the max of, lowest first; unspecified counts as error.
const ORDER = [Status.PASSED, Status.WAIVED, Status.PENDING, Status.RUNNING, Status.SKIPPED, Status.CANCELLED, Status.NOT_READY, Status.LOST, Status.INTERRUPTED, Status.ERROR, Status.FAILED];
const rank = (s: Status) => ORDER.indexOf(s === Status.UNSPECIFIED ? Status.ERROR : s);
const status = fc.constantFrom(...ALL_STATUSES);
const pairs = ALL_STATUSES.flatMap((a) => ALL_STATUSES.map((b) => [a, b] as const));
const name = (a: Status, b: Status) => `${statusName(a)} + ${statusName(b)}`;

describe("the status fold table", () => {
  it("has a cell for every pair, and each cell is the higher of the two in the documented order", () => {
    expect(pairs).toHaveLength(144);
    for (const [a, b] of pairs) expect(rank(foldPair(a, b)), name(a, b)).toBe(Math.max(rank(a), rank(b)));
  });

  it("is commutative and associative over every pair and triple", () => {
    for (const [a, b] of pairs) expect(foldPair(a, b), name(a, b)).toBe(foldPair(b, a));
    for (const [a, b] of pairs) for (const c of ALL_STATUSES) expect(foldPair(foldPair(a, b), c)).toBe(foldPair(a, foldPair(b, c)));
  });

  it("makes a failure win over everything, including error, lost and not ready", () => {
    for (const s of ALL_STATUSES) expect(foldPair(Status.FAILED, s), statusName(s)).toBe(Status.FAILED);
    expect(foldStatuses([Status.ERROR, Status.FAILED])).toBe(Status.FAILED);
  });

  it("keeps passed only when both sides passed", () => {
    for (const [a, b] of pairs) {
      if (foldPair(a, b) === Status.PASSED) expect([a, b], name(a, b)).toEqual([Status.PASSED, Status.PASSED]);
    }
  });

  it("keeps waived above passed and below everything unverified: a waiver never hides not ready, lost or an error", () => {
    expect(foldPair(Status.PASSED, Status.WAIVED)).toBe(Status.WAIVED);
    for (const s of [Status.NOT_READY, Status.LOST, Status.ERROR, Status.INTERRUPTED, Status.CANCELLED, Status.SKIPPED, Status.FAILED, Status.UNSPECIFIED]) {
      expect(foldPair(Status.WAIVED, s), statusName(s)).not.toBe(Status.WAIVED);
      expect(foldPair(Status.WAIVED, s), statusName(s)).not.toBe(Status.PASSED);
    }
  });

  it("folds nothing to skipped and an unspecified status to error, never to passed", () => {
    expect(foldStatuses([])).toBe(Status.SKIPPED);
    expect(foldStatuses([Status.UNSPECIFIED])).toBe(Status.ERROR);
    expect(foldStatuses([Status.PASSED, Status.UNSPECIFIED])).toBe(Status.ERROR);
  });

  it("gives the same result for every permutation of a list, and passed only for all-passed lists", () => {
    fc.assert(
      fc.property(fc.array(status, { minLength: 1, maxLength: 12 }), fc.func(fc.integer()), (list, key) => {
        const shuffled = [...list].sort((x, y) => key(x) - key(y) || list.indexOf(x) - list.indexOf(y));
        const folded = foldStatuses(list);
        expect(foldStatuses(shuffled)).toBe(folded);
        expect(folded === Status.PASSED).toBe(list.every((s) => s === Status.PASSED));
        expect(folded === Status.FAILED).toBe(list.includes(Status.FAILED));
      }),
      { numRuns: 2000 },
    );
  });
});
