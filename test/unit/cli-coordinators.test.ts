// The coord CLI and several coordinators (issue 19): only a call that certainly never ran is sent
// to the next coordinator; a bad list is refused naming the entry.
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { ControlClient, neverRan } from "../../coordinator/cli/client.js";
import { ACTIVE_COORDINATOR_KEY } from "../../shared/grpc/standby.js";
import { refusal } from "../support/refusal.js";

function failure(code: grpc.status, details: string, active?: string): Partial<grpc.ServiceError> {
  const metadata = new grpc.Metadata();
  if (active) metadata.set(ACTIVE_COORDINATOR_KEY, active);
  return { code, details, message: `${code} ${grpc.status[code]}: ${details}`, metadata };
}

describe("which failed calls go to the next coordinator", () => {
  it("sends on a standby's refusal, with or without the active one's address", () => {
    expect(neverRan(failure(grpc.status.UNAVAILABLE, "coordinator b is a standby; the active coordinator is a, try 10.0.0.1:7400", "10.0.0.1:7400"))).toBe(true);
    expect(neverRan(failure(grpc.status.UNAVAILABLE, "coordinator b is a standby and no coordinator has taken the lead yet; try again in a few seconds"))).toBe(true);
    expect(neverRan(failure(grpc.status.UNAVAILABLE, "coordinator b is not active (its lease lapsed); try again in a few seconds"))).toBe(true);
  });

  it("sends when no connection was made", () => {
    expect(neverRan(failure(grpc.status.UNAVAILABLE, "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:7400"))).toBe(true);
    expect(neverRan(failure(grpc.status.UNAVAILABLE, "No connection established. Last error: Error: getaddrinfo ENOTFOUND coord-b"))).toBe(true);
  });

  it("never sends again a call that may have run: a dropped connection, a deadline, or any answer of the coordinator's", () => {
    expect(neverRan(failure(grpc.status.UNAVAILABLE, "Connection dropped"))).toBe(false);
    expect(neverRan(failure(grpc.status.DEADLINE_EXCEEDED, "Deadline exceeded"))).toBe(false);
    expect(neverRan(failure(grpc.status.FAILED_PRECONDITION, "run r1 is finished"))).toBe(false);
    expect(neverRan(failure(grpc.status.PERMISSION_DENIED, "coordinator b is a standby"))).toBe(false);
  });
});

describe("the list the CLI is given", () => {
  it("refuses a bad entry, naming it", () => {
    const err = refusal(() => new ControlClient({ coordinator: "127.0.0.1:7400,coord-b", token: "fga_x", insecure: true }));
    expect(err.code).toBe("bad_input");
    expect(err.message).toMatch(/--coordinator "127\.0\.0\.1:7400,coord-b": entry 2 of 2, "coord-b" is not HOST:PORT/);
  });

  it("dials the first entry first", () => {
    const client = new ControlClient({ coordinator: "127.0.0.1:7401,127.0.0.1:7402", token: "fga_x", insecure: true });
    try {
      expect(client.address).toBe("127.0.0.1:7401");
    } finally {
      client.close();
    }
  });
});
