// Building and signing X.509 certificates: the coordinator's CA, its server certificate, and each
// node's client certificate. node:crypto reads certificates but cannot write them, so node-forge
// does the ASN.1 (README "Dependencies"); keys are made by node:crypto.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { isIP } from "node:net";
import forge from "node-forge";
import { nodeUris } from "../../shared/tls/node-names.js";

export interface KeyPairPem {
  keyPem: string;
  /** SPKI, PEM. */
  publicKeyPem: string;
}

export interface Ca {
  certPem: string;
  keyPem: string;
}

export interface IssuedCertificate {
  certPem: string;
  notAfterMs: number;
}

/** RSA-2048: every TLS stack speaks it, and node:crypto makes one in milliseconds. */
export function newKeyPair(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { keyPem: privateKey, publicKeyPem: publicKey };
}

/** Positive, random, 16 bytes: serials never repeat and never look negative to a DER reader. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString("hex");
}

/** A minute back: a clock a little behind ours still accepts a certificate made just now. */
const CLOCK_SKEW_MS = 60_000;

function certificate(publicKeyPem: string, subjectCn: string, nowMs: number, ttlMs: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(nowMs - CLOCK_SKEW_MS);
  cert.validity.notAfter = new Date(nowMs + ttlMs);
  cert.setSubject([{ name: "commonName", value: subjectCn }]);
  return cert;
}

function signedBy(cert: forge.pki.Certificate, ca: Ca): IssuedCertificate {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  cert.setIssuer(caCert.subject.attributes);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), notAfterMs: cert.validity.notAfter.getTime() };
}

/** A self-signed CA that signs nothing but fleetgate's server and node certificates. */
export function newCa(commonName: string, nowMs: number, ttlMs: number): Ca {
  const keys = newKeyPair();
  const cert = certificate(keys.publicKeyPem, commonName, nowMs, ttlMs);
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** The coordinator's own certificate, for every name and address agents and the CLI may dial. */
export function issueServerCertificate(ca: Ca, publicKeyPem: string, hosts: string[], nowMs: number, ttlMs: number): IssuedCertificate {
  const cert = certificate(publicKeyPem, "fleetgate coordinator", nowMs, ttlMs);
  const altNames = [...new Set(hosts)].map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h }));
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames },
  ]);
  return signedBy(cert, ca);
}

/** A node's client certificate: its name and machine-id as URIs, for the key it generated. */
export function issueNodeCertificate(ca: Ca, node: { name: string; machineId: string; publicKeyPem: string }, nowMs: number, ttlMs: number): IssuedCertificate {
  const cert = certificate(node.publicKeyPem, node.name, nowMs, ttlMs);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", clientAuth: true },
    { name: "subjectAltName", altNames: nodeUris(node.name, node.machineId).map((value) => ({ type: 6, value })) },
  ]);
  return signedBy(cert, ca);
}
