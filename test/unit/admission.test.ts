// Who may register under a node name, against a real SQLite store: the name is bound to the
// machine that enrolled; an enrollment token cannot take it over and a copied node token is refused.
import { create } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { admit } from "../../coordinator/fleet/admission.js";
import { openDb, type Db } from "../../coordinator/store/db.js";
import { forgetNode, upsertNode } from "../../coordinator/store/nodes.js";
import { createEnrollToken } from "../../coordinator/store/tokens.js";
import { HelloSchema } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { refusal } from "../support/refusal.js";

const REAL = "a".repeat(32);
const OTHER = "b".repeat(32);
let dir: string;
let db: Db;
let enroll: string;

const hello = (machineId: string, credential: { case: "enrollToken" | "nodeToken"; value: string }) =>
  create(HelloSchema, { credential, identity: { name: "node-a", machineId, hostname: machineId === REAL ? "real" : "impostor" } });

/** Enrolls node-a from the real machine, as the coordinator would store it; returns its node token. */
function enrollReal(): string {
  const h = hello(REAL, { case: "enrollToken", value: enroll });
  const { nodeToken, tokenHash } = admit(db, h);
  upsertNode(db, h.identity!, tokenHash);
  return nodeToken;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fleetgate-admission-"));
  db = openDb(join(dir, "coord.db"));
  enroll = createEnrollToken(db, 60_000, "test").token;
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("admission to a node name", () => {
  it("enrolls a new name with an enrollment token and hands back a node token", () => {
    expect(enrollReal()).toMatch(/^fgn_/);
  });

  it("spends one use of the enrollment token per node enrolled, not per refused attempt", () => {
    enrollReal();
    refusal(() => admit(db, hello(OTHER, { case: "enrollToken", value: enroll })));
    expect(db.prepare("SELECT uses FROM enroll_tokens").get()).toEqual({ uses: 1 });
  });

  it("lets the enrolled machine back in with its node token", () => {
    const token = enrollReal();
    expect(admit(db, hello(REAL, { case: "nodeToken", value: token }))).toMatchObject({ nodeToken: "" });
  });

  it("refuses an enrollment token for a registered name, naming both machines and how to free the name", () => {
    enrollReal();
    const err = refusal(() => admit(db, hello(OTHER, { case: "enrollToken", value: enroll })));
    expect(err).toBeInstanceOf(FleetgateError);
    expect(err.code).toBe("conflict");
    expect(err.message).toBe(
      "node node-a is already registered (machine-id aaaaaaaaaaaa, host real); an enrollment token cannot take over a registered node. " +
        "If this machine (machine-id bbbbbbbbbbbb, host impostor) is that node after losing its state dir, or its replacement, free the name first: coord nodes forget node-a",
    );
  });

  it("refuses the node's own token presented from another machine (a clone or a copied state dir)", () => {
    const token = enrollReal();
    const err = refusal(() => admit(db, hello(OTHER, { case: "nodeToken", value: token })));
    expect(err.code).toBe("conflict");
    expect(err.message).toMatch(/^node node-a's token was presented by machine-id bbbbbbbbbbbb \(host impostor\), but node-a is machine-id aaaaaaaaaaaa, host real;/);
  });

  it("lets another machine enroll under the name once it is forgotten", () => {
    enrollReal();
    forgetNode(db, "node-a");
    expect(admit(db, hello(OTHER, { case: "enrollToken", value: enroll })).nodeToken).toMatch(/^fgn_/);
  });
});
