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
};

export function statusName(s: Status): string {
  return NAMES[s] ?? "unspecified";
}

export function statusFromName(name: string): Status {
  const found = (Object.entries(NAMES) as [string, string][]).find(([, n]) => n === name);
  return found ? (Number(found[0]) as Status) : Status.UNSPECIFIED;
}

export function isTerminal(s: Status): boolean {
  return s !== Status.PENDING && s !== Status.RUNNING && s !== Status.UNSPECIFIED;
}

/**
 * Folds check outcomes into one: any failure fails; otherwise not-ready, lost, error and
 * skipped each win over passed, so nothing unverified ever reads as a pass.
 */
export function worstStatus(statuses: Status[]): Status {
  const order = [Status.ERROR, Status.LOST, Status.FAILED, Status.NOT_READY, Status.CANCELLED, Status.SKIPPED, Status.PASSED];
  for (const s of order) if (statuses.includes(s)) return s;
  return statuses.length ? Status.PASSED : Status.SKIPPED;
}

const MARK: Partial<Record<Status, string>> = {
  [Status.PASSED]: "ok  ",
  [Status.FAILED]: "FAIL",
  [Status.NOT_READY]: "NRDY",
  [Status.SKIPPED]: "skip",
  [Status.ERROR]: "ERR ",
  [Status.LOST]: "LOST",
  [Status.CANCELLED]: "cncl",
};

/** Four-column mark for live and local output lines. */
export function statusMark(s: Status): string {
  return MARK[s] ?? statusName(s);
}
