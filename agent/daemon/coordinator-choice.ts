// Which of its coordinators the agent dials next, and whether it waits the backoff first (issue 19:
// active/standby coordinators). Pure: the connection loop (connection.ts) tells it how each stream
// ended and does what it answers.
//
// The list is the operator's, in order. A failed stream moves on to the next address at once, and
// the backoff is paid once a whole round of the list has failed: a dead first address must not
// delay the second. A standby's refusal names the active coordinator; the agent goes there at once,
// but only to an address its operator listed (an agent dials no coordinator it was not given), and
// never twice in a row without a backoff (mid-failover, A naming B and B naming A must not spin).

export interface CoordinatorChoice {
  /** The address to dial, as an index in the list. */
  index: number;
  /** Streams failed since the last backoff or registration: a whole list of them costs a backoff. */
  failed: number;
  /** The address was reached by following a standby's hint: another hint now waits a backoff. */
  hinted: boolean;
}

/** Why the agent dials the address it dials next; the loop logs each differently. */
export type Move =
  /** The next address in order (wrapping): the stream failed, or ended, with no usable hint. */
  | "next"
  /** The address a standby named as active. */
  | "followed"
  /** A standby named an address that is not in the list: not followed. */
  | "not-listed"
  /** A standby named the very address that refused: not followed. */
  | "self";

export interface NextCoordinator {
  choice: CoordinatorChoice;
  /** Wait the backoff before dialling. */
  backoff: boolean;
  move: Move;
}

/** Where a starting agent dials: the first address. */
export const FIRST_CHOICE: CoordinatorChoice = { index: 0, failed: 0, hinted: false };

/** A registration: the round starts over where the agent is. */
export function afterRegistration(choice: CoordinatorChoice): CoordinatorChoice {
  return { index: choice.index, failed: 0, hinted: false };
}

/**
 * After a stream to `addresses[choice.index]` failed to connect or ended; `hint` is the active
 * coordinator its refusal named (compared with the list exactly, as host:port). With one address
 * this is always "that address again, after the backoff", as before there were lists.
 */
export function afterFailure(addresses: readonly string[], choice: CoordinatorChoice, hint: string | undefined): NextCoordinator {
  if (!addresses.length) throw new Error("afterFailure: no coordinator address");
  const to = hint === undefined ? -1 : addresses.indexOf(hint);
  if (to >= 0 && to !== choice.index) {
    // A second hint in a row: the coordinators do not agree yet on which one is active. Go where
    // the latest names, after the backoff; the round starts over from there.
    if (choice.hinted) return { choice: { index: to, failed: 0, hinted: true }, backoff: true, move: "followed" };
    return { choice: { index: to, failed: choice.failed, hinted: true }, backoff: false, move: "followed" };
  }
  const failed = choice.failed + 1;
  const backoff = failed >= addresses.length;
  const move: Move = hint === undefined ? "next" : to < 0 ? "not-listed" : "self";
  return { choice: { index: (choice.index + 1) % addresses.length, failed: backoff ? 0 : failed, hinted: false }, backoff, move };
}
