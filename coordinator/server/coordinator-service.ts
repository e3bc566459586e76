// GetCoordinator (issue 19): which coordinator answered, its role, its store, and the active one
// as it last saw the lease. Built once with the process (it answers on a standby too), not with
// the active coordinator's parts.
import { create } from "@bufbuild/protobuf";
import * as pb from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FLEETGATE_VERSION } from "../../shared/version.js";
import type { ActiveCoordinator } from "../ha/leadership.js";
import { bindMethods, unary, type AuthDeps } from "./control-service.js";

export interface CoordinatorView {
  /** --id; "" on SQLite. */
  id: string;
  role(): "active" | "standby";
  /** "sqlite", or postgres://user@host:port/database. */
  store: string;
  /** The lease as last seen; undefined on SQLite or when none is known. */
  active(): ActiveCoordinator | undefined;
}

export function coordinatorHandlers(deps: AuthDeps, view: CoordinatorView) {
  return bindMethods({
    getCoordinator: unary(deps, (): pb.GetCoordinatorResponse => {
      const a = view.active();
      return create(pb.GetCoordinatorResponseSchema, {
        id: view.id,
        role: view.role(),
        store: view.store,
        version: FLEETGATE_VERSION,
        active: a && { id: a.holder, address: a.address, acquiredAtMs: BigInt(a.acquiredAt), renewedAtMs: BigInt(a.renewedAt), expiresAtMs: BigInt(a.expiresAt), expired: a.expired },
      });
    }),
  });
}
