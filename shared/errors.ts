// The one error type (after connect-es's ConnectError): no transport here. The mapping to gRPC
// status lives with the transport, in shared/grpc/status.ts, so a pure module that throws does
// not pull in grpc-js.

/** Where in a user's file a problem is. */
export interface SourceRef {
  file: string;
  line: number;
  col: number;
}

export type ErrorCode =
  | "bad_input" // a suite, plan, flag or config is wrong: fix the input
  | "unauthenticated" // token missing, unknown, revoked or expired
  | "permission_denied" // a known token whose role does not allow the call
  | "not_found" // a run, node or file that does not exist
  | "unreachable" // the coordinator cannot be reached
  | "conflict" // the request is valid but the state does not allow it now
  | "exhausted" // a size, rate or count limit was reached: send less, or wait (retryAfterMs) and retry
  | "internal"; // the gate machinery broke

/** The one error type of fleetgate: a code for programs, a message a person can act on. */
export class FleetgateError extends Error {
  /** For a rate limit: how long to wait before trying again, when the limit knows. */
  readonly retryAfterMs?: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly where?: SourceRef,
    options?: ErrorOptions & { retryAfterMs?: number },
  ) {
    super(where ? `${where.file}:${where.line}:${where.col} ${message}` : message, options);
    this.name = "FleetgateError";
    this.retryAfterMs = options?.retryAfterMs;
  }

  /**
   * The single place a foreign error becomes ours (after connect-es's `ConnectError.from`): a
   * FleetgateError passes through unchanged; anything else gets `fallbackCode` and `message` (or
   * its own message when none is given) and is kept as `cause`.
   */
  static from(reason: unknown, fallbackCode: ErrorCode = "internal", message?: string): FleetgateError {
    if (reason instanceof FleetgateError) return reason;
    return new FleetgateError(fallbackCode, message ?? (reason instanceof Error ? reason.message : String(reason)), undefined, { cause: reason });
  }
}

/** Exit status of both CLIs for each error code (README: 3 bad input, 4 unreachable, 70 internal). */
export const EXIT_CODE: Record<ErrorCode, number> = {
  bad_input: 3,
  unauthenticated: 3,
  permission_denied: 3,
  not_found: 3,
  conflict: 3,
  exhausted: 3,
  unreachable: 4,
  internal: 70, // EX_SOFTWARE (sysexits.h): a bug, never 1, which is NO-GO or failed
};
