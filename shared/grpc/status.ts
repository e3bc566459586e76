// FleetgateError codes ↔ gRPC status, both ways. It lives with the transport, not in
// shared/errors.ts, so code that only throws never pulls in grpc-js (after connect-es).
import { Metadata, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { FleetgateError, type ErrorCode } from "../errors.js";
import { activeCoordinatorHint, refusedByStandby } from "./standby.js";

const TO_GRPC: Record<ErrorCode, GrpcStatus> = {
  bad_input: GrpcStatus.INVALID_ARGUMENT,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  permission_denied: GrpcStatus.PERMISSION_DENIED,
  not_found: GrpcStatus.NOT_FOUND,
  unreachable: GrpcStatus.UNAVAILABLE,
  conflict: GrpcStatus.FAILED_PRECONDITION,
  exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  internal: GrpcStatus.INTERNAL,
};

/** The code a client gives a status; any status not listed is internal. */
const FROM_GRPC: Partial<Record<GrpcStatus, ErrorCode>> = {
  [GrpcStatus.UNAVAILABLE]: "unreachable",
  [GrpcStatus.DEADLINE_EXCEEDED]: "unreachable",
  [GrpcStatus.UNAUTHENTICATED]: "unauthenticated",
  [GrpcStatus.PERMISSION_DENIED]: "permission_denied",
  [GrpcStatus.INVALID_ARGUMENT]: "bad_input",
  [GrpcStatus.RESOURCE_EXHAUSTED]: "exhausted",
  [GrpcStatus.NOT_FOUND]: "not_found",
  [GrpcStatus.FAILED_PRECONDITION]: "conflict",
  [GrpcStatus.UNIMPLEMENTED]: "conflict",
};

/** Trailer carrying a rate limit's retry hint in whole milliseconds (FleetgateError.retryAfterMs). */
export const RETRY_AFTER_KEY = "fleetgate-retry-after-ms";

/** The shape grpc-js wants in a handler's callback or `call.destroy()`; a retry hint goes as a trailer. */
export function toGrpcError(err: unknown): Partial<ServiceError> {
  const ours = FleetgateError.from(err);
  // A foreign error reaching a handler is the coordinator's bug, not the caller's: say so.
  const details = ours === err ? ours.message : `internal error: ${ours.message}`;
  const status: Partial<ServiceError> = { code: TO_GRPC[ours.code], details, message: ours.message };
  if (ours.retryAfterMs === undefined) return status;
  const metadata = new Metadata();
  metadata.set(RETRY_AFTER_KEY, String(Math.ceil(ours.retryAfterMs)));
  return { ...status, metadata };
}

/** The retry hint a refused call came with (ms), if any. */
export function retryAfterMs(err: Pick<ServiceError, "metadata"> | undefined): number | undefined {
  const value = Number(err?.metadata?.get?.(RETRY_AFTER_KEY)[0]);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Turns a failed call into a FleetgateError (the call's error kept as `cause`), naming the address when nothing answered. */
export function fromGrpcError(err: unknown, address: string): FleetgateError {
  const e = err as Partial<ServiceError>;
  // grpc-js appends an empty "Resolution note:" to connection errors; it helps nobody.
  const details = (e.details || e.message || String(err)).replace(/\.?\s*Resolution note:\s*$/, "");
  const code = (e.code === undefined ? undefined : FROM_GRPC[e.code]) ?? "internal";
  // A standby coordinator (issue 19) answers, naming the active one: that is where to go.
  const active = e.code === GrpcStatus.UNAVAILABLE ? activeCoordinatorHint({ metadata: e.metadata as ServiceError["metadata"] }) : undefined;
  if (active) return FleetgateError.from(err, code, `${details}: run again with --coordinator ${active}`);
  if (refusedByStandby(e)) return FleetgateError.from(err, code, `the coordinator at ${address} is not the active one: ${details}`);
  switch (e.code) {
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.DEADLINE_EXCEEDED:
      return FleetgateError.from(err, code, `coordinator unreachable at ${address} (${details}); start it with: coord serve, or pass --coordinator HOST:PORT`);
    case GrpcStatus.UNIMPLEMENTED:
      return FleetgateError.from(err, code, `the coordinator at ${address} does not know this call (${details}); upgrade it to this CLI's version`);
    default:
      return FleetgateError.from(err, code, details);
  }
}
