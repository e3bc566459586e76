// How a standby coordinator tells an agent where the active one is (issue 19): it ends the agent's
// Connect stream at once with UNAVAILABLE, a sentence in `details`, and the active coordinator's
// host:port in a trailer — absent while no coordinator is active. The agent reads only the trailer;
// the sentence is for people reading its log.
import { status, type ServiceError } from "@grpc/grpc-js";

/** Trailer naming the active coordinator ("host:port") on a standby's refusal. */
export const ACTIVE_COORDINATOR_KEY = "fleetgate-active-coordinator";

/** The active coordinator a refused call names, if any, exactly as sent. */
export function activeCoordinatorHint(err: Pick<ServiceError, "metadata"> | undefined): string | undefined {
  const value = err?.metadata?.get?.(ACTIVE_COORDINATOR_KEY)[0];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Whether a standby refused the call: UNAVAILABLE naming the active coordinator, or saying that
 * none is active yet in the words of coordinator/ha/leadership.ts notActiveMessage. Such a call
 * never ran, and the CLI may send it to another coordinator.
 */
export function refusedByStandby(err: Partial<Pick<ServiceError, "code" | "details" | "metadata">> | undefined): boolean {
  if (err?.code !== status.UNAVAILABLE) return false;
  return activeCoordinatorHint({ metadata: err.metadata as ServiceError["metadata"] }) !== undefined || /is (a standby|not active)/.test(err.details ?? "");
}
