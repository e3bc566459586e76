// Who may register under a node name, against the store (SQLite and PostgreSQL): the name is bound to the
// machine that enrolled; an enrollment token cannot take it over and a copied node token is refused.
import { create } from "@bufbuild/protobuf";
import { X509Certificate } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { admit, recordAdmission } from "../../coordinator/fleet/admission.js";
import type { Db } from "../../coordinator/store/db.js";
import { forgetNode, upsertNode } from "../../coordinator/store/nodes.js";
import { createEnrollToken, hashToken, revokeEnrollToken, tokenId } from "../../coordinator/store/tokens.js";
import { approveClaim, getClaim } from "../../coordinator/store/node-claims.js";
import { bindNodeKey, getNode } from "../../coordinator/store/nodes.js";
import { issueNodeCertificate, newCa, newKeyPair } from "../../coordinator/tls/issue.js";
import { nodeCertificateFacts, publicKeySha256 } from "../../coordinator/tls/node-certificate.js";
import { HelloSchema } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { refusal } from "../support/refusal.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const PLAINTEXT = { address: "10.0.0.9:5000" };
const REAL = "a".repeat(32);
const OTHER = "b".repeat(32);
let db: Db;
let enroll: string;

const hello = (machineId: string, credential: { case: "enrollToken" | "nodeToken"; value: string }) =>
  create(HelloSchema, { credential, identity: { name: "node-a", machineId, hostname: machineId === REAL ? "real" : "impostor" } });

/** Enrolls node-a from the real machine, as the coordinator would store it; returns its node token. */
function enrollReal(): string {
  const h = hello(REAL, { case: "enrollToken", value: enroll });
  const admission = admit(db, h, PLAINTEXT);
  upsertNode(db, h.identity!, admission.tokenHash);
  recordAdmission(db, "node-a", admission);
  return admission.nodeToken;
}

describe.each(STORE_ENGINES)("admission (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);

  beforeEach(async () => {
    db = await store.open();
    enroll = createEnrollToken(db, 60_000, "test").token;
  });
  afterEach(() => {
    db.close();
  });

  describe("admission to a node name", () => {
    it("enrolls a new name with an enrollment token and hands back a node token", () => {
      expect(enrollReal()).toMatch(/^fgn_/);
    });

    it("spends nothing until the caller records the admission with the roster row", () => {
      const admission = admit(db, hello(REAL, { case: "enrollToken", value: enroll }), PLAINTEXT);
      expect(db.prepare("SELECT uses FROM enroll_tokens").get()).toEqual({ uses: 0 });
      recordAdmission(db, "node-a", admission);
      expect(db.prepare("SELECT uses FROM enroll_tokens").get()).toEqual({ uses: 1 });
    });

    it("spends one use of the enrollment token per node enrolled, not per refused attempt", () => {
      enrollReal();
      refusal(() => admit(db, hello(OTHER, { case: "enrollToken", value: enroll }), PLAINTEXT));
      expect(db.prepare("SELECT uses FROM enroll_tokens").get()).toEqual({ uses: 1 });
    });

    it("lets the enrolled machine back in with its node token", () => {
      const token = enrollReal();
      expect(admit(db, hello(REAL, { case: "nodeToken", value: token }), PLAINTEXT)).toMatchObject({ nodeToken: "" });
    });

    it("refuses an enrollment token for a registered name, naming both machines and how to free the name", () => {
      enrollReal();
      const err = refusal(() => admit(db, hello(OTHER, { case: "enrollToken", value: enroll }), PLAINTEXT));
      expect(err).toBeInstanceOf(FleetgateError);
      expect(err.code).toBe("conflict");
      expect(err.message).toBe(
        "node node-a is already registered (machine-id aaaaaaaaaaaa, host real); this machine (machine-id bbbbbbbbbbbb, host impostor) may not take it over with an enrollment token. " +
          "If it replaces node-a, or is node-a after losing its state dir, an admin runs: coord nodes replace node-a",
      );
    });

    it("keeps the refused claimant, counting its attempts, so coord nodes can show the conflict", () => {
      enrollReal();
      refusal(() => admit(db, hello(OTHER, { case: "enrollToken", value: enroll }), PLAINTEXT));
      refusal(() => admit(db, hello(OTHER, { case: "enrollToken", value: enroll }), PLAINTEXT));
      expect(getClaim(db, "node-a")).toMatchObject({ machineId: OTHER, hostname: "impostor", address: "10.0.0.9:5000", attempts: 2, approvedAt: undefined });
    });

    it("hands the name to the claimant only once an admin approves that very machine (coord nodes replace)", () => {
      const realToken = enrollReal();
      refusal(() => admit(db, hello(OTHER, { case: "enrollToken", value: enroll }), PLAINTEXT));
      approveClaim(db, "node-a");
      const third = "c".repeat(32);
      refusal(() => admit(db, hello(third, { case: "enrollToken", value: enroll }), PLAINTEXT));
      expect(getClaim(db, "node-a")?.approvedAt).toBeUndefined(); // another machine's claim voids the approval
      refusal(() => admit(db, hello(OTHER, { case: "enrollToken", value: enroll }), PLAINTEXT));
      approveClaim(db, "node-a");
      const h = hello(OTHER, { case: "enrollToken", value: enroll });
      const taken = admit(db, h, PLAINTEXT);
      upsertNode(db, h.identity!, taken.tokenHash);
      recordAdmission(db, "node-a", taken);
      expect(getClaim(db, "node-a")).toBeUndefined();
      expect(refusal(() => admit(db, hello(REAL, { case: "nodeToken", value: realToken }), PLAINTEXT)).code).toBe("unauthenticated");
    });

    it("refuses a node name that could not go into a certificate or a path", () => {
      const h = create(HelloSchema, { credential: { case: "enrollToken", value: enroll }, identity: { name: "a, URI:urn:x", machineId: REAL } });
      expect(refusal(() => admit(db, h, PLAINTEXT)).message).toMatch(/^node name "a, URI:urn:x" is not valid/);
    });

    it("refuses the node's own token presented from another machine (a clone or a copied state dir)", () => {
      const token = enrollReal();
      const err = refusal(() => admit(db, hello(OTHER, { case: "nodeToken", value: token }), PLAINTEXT));
      expect(err.code).toBe("conflict");
      expect(err.message).toMatch(/^node node-a's token was presented by machine-id bbbbbbbbbbbb \(host impostor\), but node-a is machine-id aaaaaaaaaaaa, host real;/);
    });

    it("lets another machine enroll under the name once it is forgotten", () => {
      enrollReal();
      forgetNode(db, "node-a");
      expect(admit(db, hello(OTHER, { case: "enrollToken", value: enroll }), PLAINTEXT).nodeToken).toMatch(/^fgn_/);
    });
  });

  describe("admission over TLS: the node's key and client certificate", () => {
    const ca = newCa("test CA", Date.now(), 86_400_000);
    const keys = newKeyPair();
    const tlsHello = (machineId: string, credential: { case: "enrollToken" | "nodeToken"; value: string }, publicKeyPem = keys.publicKeyPem) =>
      create(HelloSchema, { credential, publicKeyPem, identity: { name: "node-a", machineId, hostname: "real" } });
    const certFor = (name: string, machineId: string, publicKeyPem: string, nowMs = Date.now(), ttlMs = 86_400_000) =>
      nodeCertificateFacts(Buffer.from(new X509Certificate(issueNodeCertificate(ca, { name, machineId, publicKeyPem }, nowMs, ttlMs).certPem).raw));

    function enrollOverTls(): string {
      const h = tlsHello(REAL, { case: "enrollToken", value: enroll });
      const a = admit(db, h, { address: "x", tls: { peer: undefined } });
      expect(a.key).toEqual({ publicKeyPem: keys.publicKeyPem, sha256: publicKeySha256(keys.publicKeyPem), issue: true });
      upsertNode(db, h.identity!, a.tokenHash);
      bindNodeKey(db, "node-a", a.key!.sha256, "tls");
      return a.nodeToken;
    }

    it("binds the enrolling node to the key it generated and issues it a certificate", () => {
      enrollOverTls();
      expect(getNode(db, "node-a")).toMatchObject({ keySha256: publicKeySha256(keys.publicKeyPem), transport: "tls" });
    });

    it("lets the node back in with its token and a certificate for its bound key, renewing only past half its life", () => {
      const token = enrollOverTls();
      const fresh = certFor("node-a", REAL, keys.publicKeyPem);
      expect(admit(db, tlsHello(REAL, { case: "nodeToken", value: token }), { address: "x", tls: { peer: fresh } }).key?.issue).toBe(false);
      const old = certFor("node-a", REAL, keys.publicKeyPem, Date.now() - 50_000_000);
      expect(admit(db, tlsHello(REAL, { case: "nodeToken", value: token }), { address: "x", tls: { peer: old } }).key?.issue).toBe(true);
    });

    it("refuses the node token without a valid client certificate (none, expired, or another CA's)", () => {
      const token = enrollOverTls();
      expect(refusal(() => admit(db, tlsHello(REAL, { case: "nodeToken", value: token }), { address: "x", tls: { peer: undefined } })).message).toMatch(
        /^node node-a presented no valid client certificate/,
      );
    });

    it("refuses a certificate issued for another node, or for a key the node is no longer bound to", () => {
      const token = enrollOverTls();
      const other = certFor("node-b", REAL, keys.publicKeyPem);
      expect(refusal(() => admit(db, tlsHello(REAL, { case: "nodeToken", value: token }), { address: "x", tls: { peer: other } })).message).toMatch(/is for node node-b/);
      const stale = newKeyPair();
      const revoked = certFor("node-a", REAL, stale.publicKeyPem);
      expect(refusal(() => admit(db, tlsHello(REAL, { case: "nodeToken", value: token }, stale.publicKeyPem), { address: "x", tls: { peer: revoked } })).message).toMatch(/revoked/);
    });

    it("moves a node enrolled in plaintext onto its key at its first TLS connection", () => {
      const token = enrollReal();
      const a = admit(db, tlsHello(REAL, { case: "nodeToken", value: token }), { address: "x", tls: { peer: undefined } });
      expect(a.key?.issue).toBe(true);
    });
  });


  describe("an enrollment retried after its Registered reply was lost", () => {
    const SECRET = "s".repeat(43);
    const withSecret = (machineId: string, token: string, enrollmentSecret: string) =>
      create(HelloSchema, { credential: { case: "enrollToken", value: token }, enrollmentSecret, identity: { name: "node-a", machineId, hostname: "real" } });
    /** What the coordinator stores for an admitted hello, in the order agent-service stores it. */
    const register = (h: ReturnType<typeof withSecret>) => {
      const a = admit(db, h, PLAINTEXT);
      upsertNode(db, h.identity!, a.tokenHash);
      recordAdmission(db, "node-a", a);
      return a;
    };
    const uses = () => (db.prepare("SELECT uses FROM enroll_tokens WHERE hash = ?").get(hashToken(single)) as { uses: number }).uses;
    let single = "";
    beforeEach(() => {
      single = createEnrollToken(db, 60_000, "one node", Date.now(), 1).token;
    });

    it("lets the same agent in again by the secret it enrolled with: a new node token, the old one void, the single-use token not spent twice", () => {
      const first = register(withSecret(REAL, single, SECRET));
      expect(uses()).toBe(1);
      // The reply with first.nodeToken never reached the agent; it says hello again, as it did.
      const again = register(withSecret(REAL, single, SECRET));
      expect(again.nodeToken).toMatch(/^fgn_/);
      expect(again.nodeToken).not.toBe(first.nodeToken);
      expect(uses()).toBe(1);
      expect(getNode(db, "node-a")?.tokenHash).toBe(hashToken(again.nodeToken));
      expect(refusal(() => admit(db, hello(REAL, { case: "nodeToken", value: first.nodeToken }), PLAINTEXT)).code).toBe("unauthenticated");
      expect(admit(db, hello(REAL, { case: "nodeToken", value: again.nodeToken }), PLAINTEXT)).toMatchObject({ nodeToken: "" });
    });

    it("refuses another machine with the secret, and the same machine with another secret or none, as a takeover", () => {
      register(withSecret(REAL, single, SECRET));
      const other = createEnrollToken(db, 60_000, "more").token;
      for (const h of [withSecret(OTHER, other, SECRET), withSecret(REAL, other, "t".repeat(43)), withSecret(REAL, other, "")]) {
        const err = refusal(() => admit(db, h, PLAINTEXT));
        expect(err.code).toBe("conflict");
        expect(err.message).toContain("may not take it over with an enrollment token");
      }
    });

    it("refuses the retry once its enrollment token was revoked, and one this coordinator never made", () => {
      register(withSecret(REAL, single, SECRET));
      expect(refusal(() => admit(db, withSecret(REAL, "fge_made-up", SECRET), PLAINTEXT)).message).toContain("enrollment token not recognised");
      revokeEnrollToken(db, tokenId(hashToken(single)));
      expect(refusal(() => admit(db, withSecret(REAL, single, SECRET), PLAINTEXT)).message).toMatch(/^enrollment token revoked/);
    });
  });
});
