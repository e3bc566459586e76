// Who may call what: the role order, the one method → role table, the refusal a person reads, how a
// token becomes a person (bootstrap, live, revoked, expired, unknown), and the log line authorize()
// writes for every refusal.
import { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { authenticate } from "../../coordinator/access/authenticate.js";
import { METHOD_ROLES, ROLES, roleAllows, roleRefusal, type ControlMethod, type Identity, type Role } from "../../coordinator/access/roles.js";
import { AgentSessions } from "../../coordinator/fleet/sessions.js";
import type { RunEngine } from "../../coordinator/sequencer/engine.js";
import { authorize, type ControlServiceDeps } from "../../coordinator/server/control-service.js";
import type { Db } from "../../coordinator/store/db.js";
import { addPersonToken, revokePersonToken } from "../../coordinator/store/people.js";
import { ControlService } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const person = (name: string, role: Role): Identity => ({ name, role, bootstrap: false });

describe("the role table", () => {
  it("names a role for every ControlService method, and nothing else", () => {
    expect(Object.keys(METHOD_ROLES).sort()).toEqual(ControlService.methods.map((m) => m.localName).sort());
  });

  it("orders viewer < operator < admin: a role has everything the roles below it have", () => {
    const allowed = ROLES.flatMap((has) => ROLES.filter((needs) => roleAllows(has, needs)).map((needs) => `${has}>=${needs}`));
    expect(allowed).toEqual(["viewer>=viewer", "operator>=viewer", "operator>=operator", "admin>=viewer", "admin>=operator", "admin>=admin"]);
  });

  it("lets a viewer read, an operator also start and cancel runs, and only an admin sign off or manage people, tokens and nodes", () => {
    const mayCall = (role: Role) => (Object.keys(METHOD_ROLES) as ControlMethod[]).filter((m) => !roleRefusal(person("x", role), m)).sort();
    const reads = ["exportEvidence", "getCoordinator", "getRollout", "getRun", "listAlerts", "listMissingMachines", "listNodes", "listRollouts", "listRuns", "listSchedules", "resolvePlan", "watchRun", "whoAmI"];
    expect(mayCall("viewer")).toEqual(reads);
    // Drain and labels decide where the next run's tasks go: running the gate, so operators may.
    expect(mayCall("operator")).toEqual([...reads, "abortRollout", "cancelRun", "drainNode", "labelNode", "startRollout", "startRun", "undrainNode"].sort());
    expect(mayCall("admin")).toEqual(Object.keys(METHOD_ROLES).sort());
    for (const m of ["signOff", "approveRollout", "addUser", "listUsers", "revokeUser", "createToken", "listTokens", "revokeToken", "forgetNode"] as const) expect(METHOD_ROLES[m].role).toBe("admin");
  });

  it("refuses saying who, what they may not do, the role it needs, and the command that grants it", () => {
    expect(roleRefusal(person("carol", "viewer"), "startRun")).toBe('viewer "carol" may not start runs (needs operator); ask an admin: coord user add carol --role operator --replace');
    expect(roleRefusal(person("dave", "operator"), "signOff")).toBe('operator "dave" may not sign runs off (needs admin); ask an admin: coord user add dave --role admin --replace');
    expect(roleRefusal(person("dave", "operator"), "cancelRun")).toBeUndefined();
  });
});

const T0 = 1_700_000_000_000;
const BOOTSTRAP = "fga_bootstrap-token";

describe.each(STORE_ENGINES)("authenticate and authorize (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);
  let db: Db;
  let logged: Record<string, unknown>[];

  beforeEach(async () => {
    db = await store.open();
    logged = [];
  });

  it("takes the bootstrap token as the person admin with role admin", () => {
    expect(authenticate(db, BOOTSTRAP, BOOTSTRAP, T0)).toEqual({ identity: { name: "admin", role: "admin", bootstrap: true } });
  });

  it("takes a live person token as that person and role, and refuses it once revoked or expired, naming whose it was", () => {
    const { token: carol, user } = addPersonToken(db, { name: "carol", role: "viewer", by: "admin" }, T0);
    expect(authenticate(db, BOOTSTRAP, carol, T0 + 1)).toEqual({ identity: { name: "carol", role: "viewer", bootstrap: false } });
    revokePersonToken(db, "carol", T0 + 60_000);
    expect(authenticate(db, BOOTSTRAP, carol, T0 + 180_000)).toEqual({
      who: "carol",
      refused: `token ${user.id} of carol was revoked 2 min ago; ask an admin for a new one: coord user add carol --role viewer`,
    });

    const { token: dave, user: d } = addPersonToken(db, { name: "dave", role: "operator", by: "admin", ttlMs: 3_600_000 }, T0);
    expect(authenticate(db, BOOTSTRAP, dave, T0 + 3_599_999)).toEqual({ identity: { name: "dave", role: "operator", bootstrap: false } });
    expect(authenticate(db, BOOTSTRAP, dave, T0 + 2 * 3_600_000)).toEqual({ who: "dave", refused: `token ${d.id} of dave expired 1 h ago; ask an admin for a new one: coord user add dave --role operator` });
  });

  it("refuses no token and a token it never issued", () => {
    expect(authenticate(db, BOOTSTRAP, "", T0)).toMatchObject({ who: "-", refused: expect.stringContaining("no admin token") as string });
    expect(authenticate(db, BOOTSTRAP, "fgp_forged", T0)).toMatchObject({ who: "-", refused: expect.stringContaining("admin token refused") as string });
  });

  function callWith(token: string) {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${token}`);
    return { metadata, getPeer: () => "ipv4:127.0.0.1:5555" };
  }

  // authorize() reads the store, the bootstrap token and the log; nothing else of the deps.
  function deps(): ControlServiceDeps {
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (logged.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) });
    return { db, sessions: new AgentSessions(), engine: {} as RunEngine, log: pino(sink), adminToken: BOOTSTRAP, ownHost: { machineId: "", bootId: "" } } as ControlServiceDeps;
  }

  it("authorize returns the caller when the role suffices, and refuses PERMISSION_DENIED with one log line otherwise", () => {
    const { token } = addPersonToken(db, { name: "carol", role: "viewer", by: "admin" });
    expect(authorize(deps(), callWith(token), "listRuns")).toEqual({ name: "carol", role: "viewer", bootstrap: false });
    expect(logged).toEqual([]);
    let err: unknown;
    try {
      authorize(deps(), callWith(token), "startRun");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FleetgateError);
    expect((err as FleetgateError).code).toBe("permission_denied");
    expect(logged).toEqual([
      expect.objectContaining({ level: 40, who: "carol", role: "viewer", call: "startRun", needs: "operator", peer: "ipv4:127.0.0.1:5555", msg: "control call refused: permission denied", why: (err as Error).message }),
    ]);
  });

  it("authorize refuses a revoked token UNAUTHENTICATED whatever the method, and logs whose it was", () => {
    const { token } = addPersonToken(db, { name: "alice", role: "admin", by: "admin" });
    revokePersonToken(db, "alice");
    expect(() => authorize(deps(), callWith(token), "whoAmI")).toThrow(expect.objectContaining({ code: "unauthenticated" }) as Error);
    expect(logged).toEqual([expect.objectContaining({ who: "alice", call: "whoAmI", msg: "control call refused: unauthenticated" })]);
  });
});
