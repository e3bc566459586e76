// What a node's client certificate proves, and whether it proves the node a hello claims to be.
// Node's TLS layer has already checked the chain to our CA and the validity dates (grpc-js shows a
// peer certificate only when the socket is authorized); this binds the certificate to the roster.
import { X509Certificate, createHash, createPublicKey, type KeyObject } from "node:crypto";
import { FleetgateError } from "../../shared/errors.js";
import { nodeFromAltNames } from "../../shared/tls/node-names.js";

export interface NodeCertificateFacts {
  name: string;
  machineId: string;
  keySha256: string;
  notBeforeMs: number;
  notAfterMs: number;
}

/** sha256 of the DER SubjectPublicKeyInfo: the key a node is bound to, whatever certificate carries it. */
export function publicKeySha256(key: string | KeyObject): string {
  const object = typeof key === "string" ? createPublicKey(key) : key;
  return createHash("sha256").update(object.export({ type: "spki", format: "der" })).digest("hex");
}

/** The facts of a DER certificate, or undefined when it is not one of our node certificates. */
export function nodeCertificateFacts(der: Buffer): NodeCertificateFacts | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return undefined;
  }
  const node = nodeFromAltNames(cert.subjectAltName);
  if (!node) return undefined;
  return { ...node, keySha256: publicKeySha256(cert.publicKey), notBeforeMs: Date.parse(cert.validFrom), notAfterMs: Date.parse(cert.validTo) };
}

/** Refuses a certificate that is not for this node on this machine with its bound key. */
export function checkNodeCertificate(
  peer: NodeCertificateFacts | undefined,
  claimed: { name: string; machineId: string },
  boundKeySha256: string,
): void {
  if (!peer) {
    throw new FleetgateError(
      "unauthenticated",
      `node ${claimed.name} presented no valid client certificate (none, expired, or not issued by this coordinator's CA); ` +
        `if its certificate expired while it was off, free the name and enroll it again: coord nodes forget ${claimed.name}`,
    );
  }
  if (peer.name !== claimed.name || peer.machineId !== claimed.machineId) {
    throw new FleetgateError(
      "unauthenticated",
      `the client certificate is for node ${peer.name} on machine-id ${peer.machineId.slice(0, 12)}, but the hello claims node ${claimed.name} on machine-id ${claimed.machineId.slice(0, 12)}`,
    );
  }
  if (peer.keySha256 !== boundKeySha256) {
    throw new FleetgateError("unauthenticated", `node ${claimed.name}'s client certificate is revoked (the node was forgotten or replaced since it was issued)`);
  }
}

/** Renew once past half its life, so a node that reconnects now and then never holds an expired one. */
export function wantsRenewal(peer: NodeCertificateFacts, nowMs: number): boolean {
  return nowMs >= peer.notBeforeMs + (peer.notAfterMs - peer.notBeforeMs) / 2;
}
