// A standby coordinator's answer to calls only the active one may take (issue 19): agent streams,
// and every ControlService call that writes or needs the live state (start, cancel, sign off,
// watch, nodes …). It ends them at once with UNAVAILABLE, a sentence naming the active coordinator,
// and the active one's address in a trailer (shared/grpc/standby.ts), which agents follow. The
// CLI's reads of the store (runs, show, report, evidence export, tokens, users, refusals) are
// served on any coordinator.
import * as grpc from "@grpc/grpc-js";
import { ACTIVE_COORDINATOR_KEY } from "../../shared/grpc/standby.js";

const CONTROL = "/fleetgate.v1.ControlService/";
const HEALTH = "/grpc.health.v1.Health/";

/** ControlService calls that only read the store: the same answer from any coordinator. */
export const STANDBY_READS: ReadonlySet<string> = new Set(
  ["GetRun", "ListRuns", "ResolvePlan", "ListTokens", "ListUsers", "WhoAmI", "ExportEvidence", "ListRefusals", "GetCoordinator"].map((m) => CONTROL + m),
);

/** Whether a standby serves `path` itself. */
export function servedOnStandby(path: string): boolean {
  return path.startsWith(HEALTH) || STANDBY_READS.has(path);
}

export interface StandbyState {
  /** True while this coordinator is the active one (always, on SQLite). */
  active(): boolean;
  /** What to tell a caller, and where the active coordinator is when known. */
  notActive(): { details: string; activeAddress?: string };
}

export function standbyGate(state: StandbyState): grpc.ServerInterceptor {
  return (method, call) => {
    if (servedOnStandby(method.path)) return new grpc.ServerInterceptingCall(call);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            // Decided when the call arrives: one that began while active is the handlers' to end.
            if (state.active()) return pass(metadata);
            const { details, activeAddress } = state.notActive();
            const trailer = new grpc.Metadata();
            if (activeAddress) trailer.set(ACTIVE_COORDINATOR_KEY, activeAddress);
            call.sendStatus({ code: grpc.status.UNAVAILABLE, details, metadata: trailer });
          },
        }),
    });
  };
}
