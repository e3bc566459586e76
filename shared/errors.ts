import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";

/** Where in a user's file a problem is. */
export interface SourceRef {
  file: string;
  line: number;
  col: number;
}

export type ErrorCode =
  | "bad_input" // a suite, plan, flag or config is wrong: fix the input
  | "unauthenticated" // token missing, unknown or expired
  | "not_found" // a run, node or file that does not exist
  | "unreachable" // the coordinator cannot be reached
  | "conflict" // the request is valid but the state does not allow it now
  | "internal"; // the gate machinery broke

/** The one error type of fleetgate: a code for programs, a message a person can act on. */
export class FleetgateError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly where?: SourceRef,
  ) {
    super(where ? `${where.file}:${where.line}:${where.col} ${message}` : message);
    this.name = "FleetgateError";
  }
}

/** Exit status of both CLIs for each error code (DESIGN.md: 3 bad input, 4 unreachable). */
export const EXIT_CODE: Record<ErrorCode, number> = {
  bad_input: 3,
  unauthenticated: 3,
  not_found: 3,
  conflict: 3,
  unreachable: 4,
  internal: 1,
};

const TO_GRPC: Record<ErrorCode, GrpcStatus> = {
  bad_input: GrpcStatus.INVALID_ARGUMENT,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  not_found: GrpcStatus.NOT_FOUND,
  unreachable: GrpcStatus.UNAVAILABLE,
  conflict: GrpcStatus.FAILED_PRECONDITION,
  internal: GrpcStatus.INTERNAL,
};

/** The shape grpc-js wants in a handler's callback or `call.destroy()`. */
export function toGrpcError(err: unknown): Partial<ServiceError> {
  if (err instanceof FleetgateError) {
    return { code: TO_GRPC[err.code], details: err.message, message: err.message };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: GrpcStatus.INTERNAL, details: `internal error: ${message}`, message };
}

/** Turns a failed call into a FleetgateError, naming the address when nothing answered. */
export function fromGrpcError(err: unknown, address: string): FleetgateError {
  const e = err as Partial<ServiceError>;
  // grpc-js appends an empty "Resolution note:" to connection errors; it helps nobody.
  const details = (e.details || e.message || String(err)).replace(/\.?\s*Resolution note:\s*$/, "");
  switch (e.code) {
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new FleetgateError(
        "unreachable",
        `coordinator unreachable at ${address} (${details}); start it with: coord serve, or pass --coordinator HOST:PORT`,
      );
    case GrpcStatus.UNAUTHENTICATED:
      return new FleetgateError("unauthenticated", details);
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return new FleetgateError("bad_input", details);
    case GrpcStatus.NOT_FOUND:
      return new FleetgateError("not_found", details);
    case GrpcStatus.FAILED_PRECONDITION:
      return new FleetgateError("conflict", details);
    case GrpcStatus.UNIMPLEMENTED:
      return new FleetgateError("conflict", `the coordinator at ${address} does not know this call (${details}); upgrade it to this CLI's version`);
    default:
      return new FleetgateError("internal", details);
  }
}
