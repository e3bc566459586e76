// Who may register under a node name. A name is bound to the machine that first enrolled with it:
// later connections prove they are that node with its node token, from the same machine-id, and,
// over TLS, with a client certificate for the key bound at enrollment. An enrollment token cannot
// take over a registered name (a holder of one could otherwise kick the real agent off and answer
// its tasks with passes), and a node token copied to another machine (a cloned image, a copied
// state dir) is refused. A refused claim is kept and shown by `coord nodes`; only `coord nodes
// replace NAME` (hand the name to that claimant) or `forget NAME` frees the name.
import type { Hello } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import type { Db } from "../store/db.js";
import { getNode, setEnrollmentSecret, type NodeRow } from "../store/nodes.js";
import { clearClaim, getClaim, recordClaim } from "../store/node-claims.js";
import { hashToken, knownEnrollToken, newSecret, spendEnrollToken, verifyEnrollToken } from "../store/tokens.js";
import { checkNodeCertificate, publicKeySha256, wantsRenewal, type NodeCertificateFacts } from "../tls/node-certificate.js";

const MACHINE_ID = /^[0-9a-f]{32}$/;
/** Letters, digits, ".", "_", "-": a hostname fits, and it goes into certificates and paths unescaped. */
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export interface Admission {
  /** The node token to hand back: new on enrollment, "" when the agent keeps its own. */
  nodeToken: string;
  tokenHash: string;
  /** Enrollment: the enrollment token whose use `recordAdmission` counts. */
  enrolledWith?: string;
  /** Enrollment: the hash of the secret the agent sent with it, which `recordAdmission` keeps. */
  enrollmentSecretHash?: string;
  /** Over TLS: the key to bind the node to (sha256 of its SPKI), and to issue a certificate for when `issue`. */
  key?: { publicKeyPem: string; sha256: string; issue: boolean };
}

/** How the hello arrived: over TLS, with the client certificate the TLS layer verified (if any). */
export interface HelloTransport {
  address: string;
  /** Unset: plaintext (coord serve --insecure); certificates play no part. */
  tls?: { peer: NodeCertificateFacts | undefined };
  nowMs?: number;
}

function described(n: NodeRow): string {
  return `machine-id ${n.identity.machineId.slice(0, 12)}, host ${n.identity.hostname || "?"}`;
}

function helloKey(hello: Hello): { publicKeyPem: string; sha256: string } | undefined {
  if (!hello.publicKeyPem) return undefined;
  try {
    return { publicKeyPem: hello.publicKeyPem, sha256: publicKeySha256(hello.publicKeyPem) };
  } catch {
    throw new FleetgateError("bad_input", "hello carries a public key that is not a PEM SPKI key");
  }
}

/**
 * Writes what an admission decided: an enrollment spends a use of its token, settles any claim
 * on the name and keeps the hash of the agent's enrollment secret. Called after the roster row is
 * stored, in its transaction, so a registration is one synced commit and a token is never spent
 * for a node the roster does not have.
 */
export function recordAdmission(db: Db, name: string, admission: Admission): void {
  if (admission.enrollmentSecretHash !== undefined) setEnrollmentSecret(db, name, admission.enrollmentSecretHash);
  if (admission.enrolledWith === undefined) return;
  spendEnrollToken(db, admission.enrolledWith);
  clearClaim(db, name);
}

/**
 * The agent that enrolled this name, enrolling again: same machine, and it knows the secret it
 * sent the first time, so its Registered reply was lost (a dropped link, a coordinator stopped
 * right after the commit). Nobody else has the secret: it never left that agent's state dir but
 * in its first hello.
 */
function sameEnrollment(registered: NodeRow, machineId: string, secretHash: string): boolean {
  return secretHash !== "" && registered.identity.machineId === machineId && secretHash === registered.enrollmentSecretHash;
}

/**
 * Checks the hello's credential against the roster; throws FleetgateError when it may not register.
 * Writes only a refused claim: what an admission grants, `recordAdmission` writes.
 */
export function admit(db: Db, hello: Hello, via: HelloTransport): Admission {
  const id = hello.identity;
  if (!id?.name) throw new FleetgateError("bad_input", "hello has no node name");
  if (!NODE_NAME.test(id.name)) throw new FleetgateError("bad_input", `node name "${id.name}" is not valid: use letters, digits, ".", "_" and "-" (at most 63), starting with a letter or digit`);
  if (!MACHINE_ID.test(id.machineId)) throw new FleetgateError("bad_input", `hello has an invalid machine-id "${id.machineId}" (expected 32 hex digits from /etc/machine-id)`);
  const cred = hello.credential;
  const registered = getNode(db, id.name);
  const key = helloKey(hello);
  if (via.tls && !key) throw new FleetgateError("bad_input", "hello over TLS carries no public key; upgrade the agent");
  const claim = () => recordClaim(db, { name: id.name, machineId: id.machineId, hostname: id.hostname, address: via.address }, via.nowMs);

  if (cred.case === "enrollToken") {
    const secretHash = hello.enrollmentSecret ? hashToken(hello.enrollmentSecret) : "";
    if (registered && sameEnrollment(registered, id.machineId, secretHash)) {
      // Its first try spent the token's use; a revoked token still ends it.
      knownEnrollToken(db, cred.value);
      const nodeToken = newSecret("fgn");
      return { nodeToken, tokenHash: hashToken(nodeToken), enrollmentSecretHash: secretHash, key: via.tls && key ? { ...key, issue: true } : undefined };
    }
    verifyEnrollToken(db, cred.value);
    if (registered) {
      const approved = getClaim(db, id.name);
      if (!(approved?.approvedAt && approved.machineId === id.machineId)) {
        claim();
        throw new FleetgateError(
          "conflict",
          `node ${id.name} is already registered (${described(registered)}); this machine (machine-id ${id.machineId.slice(0, 12)}, host ${id.hostname || "?"}) may not take it over with an enrollment token. ` +
            `If it replaces ${id.name}, or is ${id.name} after losing its state dir, an admin runs: coord nodes replace ${id.name}`,
        );
      }
    }
    const nodeToken = newSecret("fgn");
    return { nodeToken, tokenHash: hashToken(nodeToken), enrolledWith: cred.value, enrollmentSecretHash: secretHash, key: via.tls && key ? { ...key, issue: true } : undefined };
  }
  if (cred.case === "nodeToken") {
    if (!registered || registered.tokenHash !== hashToken(cred.value)) {
      throw new FleetgateError("unauthenticated", `node token not valid for node ${id.name}; restart the agent with an enrollment token from: coord token create`);
    }
    if (registered.identity.machineId !== id.machineId) {
      claim();
      throw new FleetgateError(
        "conflict",
        `node ${id.name}'s token was presented by machine-id ${id.machineId.slice(0, 12)} (host ${id.hostname || "?"}), but ${id.name} is ${described(registered)}; ` +
          `a node token belongs to the machine that enrolled (a cloned image or a copied state dir?). If this machine replaces ${id.name}, an admin runs: coord nodes replace ${id.name}`,
      );
    }
    if (!via.tls || !key) return { nodeToken: "", tokenHash: registered.tokenHash };
    if (!registered.keySha256) {
      // Enrolled before this coordinator served TLS: the node token proves who it is, once; from
      // now on its key does.
      return { nodeToken: "", tokenHash: registered.tokenHash, key: { ...key, issue: true } };
    }
    checkNodeCertificate(via.tls.peer, id, registered.keySha256);
    if (key.sha256 !== registered.keySha256) {
      throw new FleetgateError("unauthenticated", `node ${id.name} offers a new key but its certificate is for the old one; a node keeps its key (STATE_DIR/node.key)`);
    }
    return { nodeToken: "", tokenHash: registered.tokenHash, key: { ...key, issue: wantsRenewal(via.tls.peer!, via.nowMs ?? Date.now()) } };
  }
  throw new FleetgateError("unauthenticated", "hello carries no token; start the agent with --token (from: coord token create)");
}
