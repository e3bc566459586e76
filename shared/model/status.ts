import { Status } from "../gen/fleetgate/v1/common_pb.js";

export { Status };

const NAMES: Record<Status, string> = {
  [Status.UNSPECIFIED]: "unspecified",
  [Status.PENDING]: "pending",
  [Status.RUNNING]: "running",
  [Status.PASSED]: "passed",
  [Status.FAILED]: "failed",
  [Status.NOT_READY]: "not_ready",
  [Status.SKIPPED]: "skipped",
  [Status.LOST]: "lost",
  [Status.ERROR]: "error",
  [Status.CANCELLED]: "cancelled",
  [Status.INTERRUPTED]: "interrupted",
  [Status.WAIVED]: "waived",
};

/** Every status, in enum order: what the fold table and its property test range over. */
export const ALL_STATUSES: readonly Status[] = Object.keys(NAMES).map(Number) as Status[];

export function statusName(s: Status): string {
  return NAMES[s] ?? "unspecified";
}

// A map, not a search of NAMES: every stored result's status is read through this.
const BY_NAME = new Map((Object.entries(NAMES) as [string, string][]).map(([s, n]) => [n, Number(s) as Status]));

export function statusFromName(name: string): Status {
  return BY_NAME.get(name) ?? Status.UNSPECIFIED;
}

export function isTerminal(s: Status): boolean {
  return s !== Status.PENDING && s !== Status.RUNNING && s !== Status.UNSPECIFIED;
}

// How two outcomes add up — the one fold of statuses in fleetgate: check results into a task,
// tasks into a stage, a run, a report row. Read a cell as FOLD[row][column].
//  - A failure anywhere wins: a verdict with a failed check is NO-GO, whatever else went wrong.
//  - Then whatever left the work unverified, machinery first: error, interrupted, lost, not
//    ready, cancelled, skipped. None of them ever folds into a pass.
//  - Then work still under way (running, pending): a stage with one task left is not passed yet.
//  - Then waived (a check that passed or failed under an active waiver, shared/model/waivers.ts):
//    it was judged, so it does not hold the gate, but a stage or run with one is waived, never
//    passed, so every report says so. It sits just above passed and below everything that left
//    work unverified: a waiver can never hide a not-ready, lost or errored node.
//  - Passed is the identity: it survives only when everything passed.
//  - Unspecified (a status nobody set, or one from a newer peer) is the machinery breaking: error.
// The table is a total order's max (proved in test/unit/status-fold.test.ts over every pair and
// every permutation), so the fold is commutative, associative and idempotent.
const P = Status.PASSED, F = Status.FAILED, N = Status.NOT_READY, S = Status.SKIPPED, L = Status.LOST;
const E = Status.ERROR, C = Status.CANCELLED, I = Status.INTERRUPTED, R = Status.RUNNING, Q = Status.PENDING, W = Status.WAIVED;
const FOLD: Record<Status, Record<Status, Status>> = row({
  //                 unspec pending running passed failed not_rdy skipped lost  error cancel interr waived
  [Status.UNSPECIFIED]: [E,    E,      E,      E,     F,     E,      E,      E,    E,    E,     E,     E],
  [Status.PENDING]:     [E,    Q,      R,      Q,     F,     N,      S,      L,    E,    C,     I,     Q],
  [Status.RUNNING]:     [E,    R,      R,      R,     F,     N,      S,      L,    E,    C,     I,     R],
  [Status.PASSED]:      [E,    Q,      R,      P,     F,     N,      S,      L,    E,    C,     I,     W],
  [Status.FAILED]:      [F,    F,      F,      F,     F,     F,      F,      F,    F,    F,     F,     F],
  [Status.NOT_READY]:   [E,    N,      N,      N,     F,     N,      N,      L,    E,    N,     I,     N],
  [Status.SKIPPED]:     [E,    S,      S,      S,     F,     N,      S,      L,    E,    C,     I,     S],
  [Status.LOST]:        [E,    L,      L,      L,     F,     L,      L,      L,    E,    L,     I,     L],
  [Status.ERROR]:       [E,    E,      E,      E,     F,     E,      E,      E,    E,    E,     E,     E],
  [Status.CANCELLED]:   [E,    C,      C,      C,     F,     N,      C,      L,    E,    C,     I,     C],
  [Status.INTERRUPTED]: [E,    I,      I,      I,     F,     I,      I,      I,    E,    I,     I,     I],
  [Status.WAIVED]:      [E,    Q,      R,      W,     F,     N,      S,      L,    E,    C,     I,     W],
});

function row(cells: Record<Status, Status[]>): Record<Status, Record<Status, Status>> {
  const table = {} as Record<Status, Record<Status, Status>>;
  for (const a of ALL_STATUSES) {
    table[a] = {} as Record<Status, Status>;
    ALL_STATUSES.forEach((b, i) => (table[a][b] = cells[a][i] as Status));
  }
  return table;
}

/** Two outcomes as one, by the table above. */
export function foldPair(a: Status, b: Status): Status {
  return FOLD[a]?.[b] ?? Status.ERROR;
}

/**
 * Many outcomes as one (checks into a task, tasks into a stage or run). Nothing at all folds to
 * skipped: an empty stage verified nothing, so it is never a pass.
 */
export function foldStatuses(statuses: Iterable<Status>): Status {
  let out: Status | undefined;
  for (const s of statuses) out = out === undefined ? foldPair(s, s) : foldPair(out, s);
  return out ?? Status.SKIPPED;
}

/**
 * Whether an outcome lets the gate go on: passed, or waived (judged, its failure excused by an
 * active waiver). The stages after it run, and the verdict may be GO with the waivers listed.
 */
export function isGreen(s: Status): boolean {
  return s === Status.PASSED || s === Status.WAIVED;
}

const MARK: Partial<Record<Status, string>> = {
  [Status.PASSED]: "ok  ",
  [Status.FAILED]: "FAIL",
  [Status.NOT_READY]: "NRDY",
  [Status.SKIPPED]: "skip",
  [Status.ERROR]: "ERR ",
  [Status.LOST]: "LOST",
  [Status.CANCELLED]: "cncl",
  [Status.INTERRUPTED]: "INTR",
  [Status.WAIVED]: "WAIV",
};

/** Four-column mark for live and local output lines. */
export function statusMark(s: Status): string {
  return MARK[s] ?? statusName(s);
}
