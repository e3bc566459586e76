// Which coordinator an agent dials next, and whether it waits the backoff first (issue 19):
// through the list in order, a backoff per whole failed round, a standby's hint followed at once
// only to a listed address and not twice in a row, and one address behaving as it always did.
import { describe, expect, it } from "vitest";
import { afterFailure, afterRegistration, FIRST_CHOICE, type CoordinatorChoice, type Move } from "../../agent/daemon/coordinator-choice.js";

const A = "10.0.0.1:7400";
const B = "10.0.0.2:7400";
const C = "10.0.0.3:7400";

/** Feeds stream ends (each the hint its refusal carried, or undefined) and records what the agent did. */
function walk(addresses: string[], ends: (string | undefined)[], from: CoordinatorChoice = FIRST_CHOICE): { dial: string; backoff: boolean; move: Move }[] {
  let choice = from;
  return ends.map((hint) => {
    const next = afterFailure(addresses, choice, hint);
    choice = next.choice;
    return { dial: addresses[choice.index]!, backoff: next.backoff, move: next.move };
  });
}

describe("choosing the next coordinator", () => {
  it("starts at the first address", () => {
    expect(FIRST_CHOICE).toEqual({ index: 0, failed: 0, hinted: false });
  });

  it("keeps one address and backs off after every failure, as before there were lists", () => {
    expect(walk([A], [undefined, undefined, undefined])).toEqual([
      { dial: A, backoff: true, move: "next" },
      { dial: A, backoff: true, move: "next" },
      { dial: A, backoff: true, move: "next" },
    ]);
  });

  it("goes through the list in order, wrapping, and backs off once per whole failed round", () => {
    expect(walk([A, B, C], Array(7).fill(undefined))).toEqual([
      { dial: B, backoff: false, move: "next" },
      { dial: C, backoff: false, move: "next" },
      { dial: A, backoff: true, move: "next" },
      { dial: B, backoff: false, move: "next" },
      { dial: C, backoff: false, move: "next" },
      { dial: A, backoff: true, move: "next" },
      { dial: B, backoff: false, move: "next" },
    ]);
  });

  it("tries the second address at once when the first is dead", () => {
    expect(walk([A, B], [undefined])).toEqual([{ dial: B, backoff: false, move: "next" }]);
  });

  it("starts a new round where it registered: the next failure there costs no backoff", () => {
    const failedOnce = afterFailure([A, B, C], FIRST_CHOICE, undefined).choice;
    const registeredAtB = afterRegistration(failedOnce);
    expect(registeredAtB).toEqual({ index: 1, failed: 0, hinted: false });
    expect(walk([A, B, C], [undefined, undefined, undefined], registeredAtB).map((s) => [s.dial, s.backoff])).toEqual([
      [C, false],
      [A, false],
      [B, true],
    ]);
  });

  it("follows a standby's hint to a listed address at once, skipping the order", () => {
    expect(walk([A, B, C], [C])).toEqual([{ dial: C, backoff: false, move: "followed" }]);
    // From the first address failing (dead) to the second, which names the third.
    expect(walk([A, B, C], [undefined, C])).toEqual([
      { dial: B, backoff: false, move: "next" },
      { dial: C, backoff: false, move: "followed" },
    ]);
  });

  it("does not follow a hint to an address the operator did not list, and moves on in order", () => {
    expect(walk([A, B, C], ["10.9.9.9:7400"])).toEqual([{ dial: B, backoff: false, move: "not-listed" }]);
    // Compared exactly: the same host under another name is not in the list.
    expect(walk([A, B], ["coord-b.example.net:7400"])).toEqual([{ dial: B, backoff: false, move: "not-listed" }]);
    // Unlisted hints count toward the round like any failure.
    expect(walk([A, B], ["10.9.9.9:7400", "10.9.9.9:7400"]).map((s) => [s.dial, s.backoff])).toEqual([
      [B, false],
      [A, true],
    ]);
  });

  it("does not follow a hint naming the coordinator that refused", () => {
    expect(walk([A, B], [A])).toEqual([{ dial: B, backoff: false, move: "self" }]);
    expect(walk([A], [A])).toEqual([{ dial: A, backoff: true, move: "self" }]);
  });

  it("backs off before following a second hint in a row: two standbys naming each other do not spin", () => {
    // A says B, B says A, A says B…: every hop after the first waits.
    expect(walk([A, B], [B, A, B, A])).toEqual([
      { dial: B, backoff: false, move: "followed" },
      { dial: A, backoff: true, move: "followed" },
      { dial: B, backoff: true, move: "followed" },
      { dial: A, backoff: true, move: "followed" },
    ]);
  });

  it("follows a hint at once again after a stream that ended without one", () => {
    // B named A, A was dead (no hint), so the next hint is news, not a loop.
    expect(walk([A, B, C], [B, undefined, A])).toEqual([
      { dial: B, backoff: false, move: "followed" },
      { dial: C, backoff: false, move: "next" },
      { dial: A, backoff: false, move: "followed" },
    ]);
  });

  it("keeps backing off while a standby names a dead active: never more than a round without a backoff", () => {
    // A is dead; B (standby, lease not yet expired) keeps naming A.
    const steps = walk([A, B], [undefined, A, undefined, A, undefined, A, undefined, A]);
    expect(steps.map((s) => [s.dial, s.backoff])).toEqual([
      [B, false],
      [A, false],
      [B, true],
      [A, false],
      [B, false],
      [A, false],
      [B, true],
      [A, false],
    ]);
  });

  it("never dials more than 2 × the list length − 1 times in a row without a backoff, whatever the hints", () => {
    // Every sequence of ends over a small alphabet of hints (listed, unlisted, none), exhaustively.
    const addresses = [A, B, C];
    const hints = [undefined, A, B, C, "10.9.9.9:7400"];
    const length = 6;
    let sequences = 0;
    const visit = (choice: CoordinatorChoice, sinceBackoff: number, depth: number) => {
      if (depth === length) {
        sequences++;
        return;
      }
      for (const hint of hints) {
        const next = afterFailure(addresses, choice, hint);
        const run = next.backoff ? 0 : sinceBackoff + 1;
        expect(run).toBeLessThanOrEqual(2 * addresses.length - 1);
        expect(next.choice.index).toBeGreaterThanOrEqual(0);
        expect(next.choice.index).toBeLessThan(addresses.length);
        if (next.move === "followed") expect(addresses[next.choice.index]).toBe(hint);
        else expect(next.choice.index).toBe((choice.index + 1) % addresses.length);
        visit(next.choice, run, depth + 1);
      }
    };
    visit(FIRST_CHOICE, 0, 0);
    expect(sequences).toBe(hints.length ** length);
  });
});
