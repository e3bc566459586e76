// `coord status` (issue 19): one line per coordinator given, and exit 0 only when one answered as
// the active coordinator.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { formatStatus, statusExit, type StatusAnswer } from "../../coordinator/cli/status-command.js";
import { GetCoordinatorResponseSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";

const T0 = Date.parse("2026-11-29T08:00:00Z");
const lease = { id: "coord-a", address: "coord-a:7400", acquiredAtMs: BigInt(T0), renewedAtMs: BigInt(T0 + 3_000), expiresAtMs: BigInt(T0 + 13_000), expired: false };
const pgStore = "postgres://fleetgate@db:5432/fleetgate";

describe("coord status", () => {
  it("shows each coordinator's role and the active one as its lease says, and one it could not reach", () => {
    const answers: StatusAnswer[] = [
      { address: "coord-a:7400", status: create(GetCoordinatorResponseSchema, { id: "coord-a", role: "active", store: pgStore, active: lease }) },
      { address: "coord-b:7400", status: create(GetCoordinatorResponseSchema, { id: "coord-b", role: "standby", store: pgStore, active: lease }) },
      { address: "coord-c:7400", error: "coordinator unreachable at coord-c:7400 (No connection established)" },
    ];
    expect(formatStatus(answers)).toBe(
      [
        "COORDINATOR   ID       ROLE         STORE                                   ACTIVE",
        "coord-a:7400  coord-a  active       postgres://fleetgate@db:5432/fleetgate  coord-a at coord-a:7400 since 2026-11-29T08:00:00.000Z",
        "coord-b:7400  coord-b  standby      postgres://fleetgate@db:5432/fleetgate  coord-a at coord-a:7400 since 2026-11-29T08:00:00.000Z",
        "coord-c:7400  -        unreachable  -                                       coordinator unreachable at coord-c:7400 (No connection established)",
      ].join("\n"),
    );
    expect(statusExit(answers)).toBe(0);
  });

  it("says when the lease has lapsed or no coordinator has taken the lead, and exits 4 when none answered as active", () => {
    const lapsed: StatusAnswer[] = [{ address: "coord-b:7400", status: create(GetCoordinatorResponseSchema, { id: "coord-b", role: "standby", store: pgStore, active: { ...lease, expired: true } }) }];
    expect(formatStatus(lapsed)).toContain("coord-a at coord-a:7400 since 2026-11-29T08:00:00.000Z; lease expired 2026-11-29T08:00:13.000Z");
    expect(statusExit(lapsed)).toBe(4);
    const none: StatusAnswer[] = [{ address: "coord-b:7400", status: create(GetCoordinatorResponseSchema, { id: "coord-b", role: "standby", store: pgStore }) }];
    expect(formatStatus(none)).toMatch(/standby +postgres:\S+ +none yet$/);
  });

  it("shows a SQLite coordinator as the only one", () => {
    const sqlite: StatusAnswer[] = [{ address: "127.0.0.1:7400", status: create(GetCoordinatorResponseSchema, { role: "active", store: "sqlite" }) }];
    expect(formatStatus(sqlite)).toBe(["COORDINATOR     ID  ROLE    STORE   ACTIVE", "127.0.0.1:7400  -   active  sqlite  itself (SQLite: no standbys)"].join("\n"));
    expect(statusExit(sqlite)).toBe(0);
  });
});
