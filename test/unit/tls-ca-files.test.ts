// The coordinator's CA and server certificate files: created once with safe modes, never
// replaced, brought by the operator only when certificate and key belong together.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { initCa, issuedServerIdentity, loadCa, ownServerIdentity } from "../../coordinator/tls/ca-files.js";
import { issueNodeCertificate, newCa, newKeyPair } from "../../coordinator/tls/issue.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fleetgate-tls-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("the coordinator's CA", () => {
  it("is created once, key 0600 in a 0700 dir, and kept on the next init", () => {
    const first = initCa(dir);
    expect(first.created).toBe(true);
    expect(statSync(join(dir, "tls")).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "tls", "ca.key")).mode & 0o777).toBe(0o600);
    const pem = readFileSync(first.certPath, "utf8");
    expect(new X509Certificate(pem).ca).toBe(true);
    expect(initCa(dir).created).toBe(false);
    expect(readFileSync(first.certPath, "utf8")).toBe(pem);
  });

  it("takes the operator's own CA only when the key is that certificate's and it is a CA", () => {
    const own = newCa("corp CA", Date.now(), 86_400_000);
    const other = newKeyPair();
    writeFileSync(join(dir, "own.crt"), own.certPem);
    writeFileSync(join(dir, "own.key"), own.keyPem);
    writeFileSync(join(dir, "other.key"), other.keyPem);
    expect(() => initCa(join(dir, "a"), { certFile: join(dir, "own.crt"), keyFile: join(dir, "other.key") })).toThrow(/is not the key of that certificate/);
    expect(() => initCa(join(dir, "b"), { certFile: join(dir, "own.crt") })).toThrow(/both --cert FILE and --key FILE/);
    const leaf = issueNodeCertificate(own, { name: "n", machineId: "a".repeat(32), publicKeyPem: other.publicKeyPem }, Date.now(), 86_400_000);
    writeFileSync(join(dir, "leaf.crt"), leaf.certPem);
    expect(() => initCa(join(dir, "c"), { certFile: join(dir, "leaf.crt"), keyFile: join(dir, "other.key") })).toThrow(/is not a CA certificate/);
    expect(initCa(join(dir, "d"), { certFile: join(dir, "own.crt"), keyFile: join(dir, "own.key") }).created).toBe(true);
    expect(loadCa(join(dir, "d")).certPem).toBe(own.certPem);
  });
});

describe("the server certificate", () => {
  it("is issued by the CA for every host asked, with IPs as IP SANs", () => {
    initCa(dir);
    const id = issuedServerIdentity(dir, loadCa(dir), ["localhost", "127.0.0.1", "::1", "coord.example"]);
    const cert = new X509Certificate(id.certPem);
    expect(cert.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:coord.example");
    expect(cert.checkIssued(new X509Certificate(loadCa(dir).certPem))).toBe(true);
    expect(cert.checkHost("coord.example")).toBe("coord.example");
    expect(statSync(join(dir, "tls", "server.key")).mode & 0o777).toBe(0o600);
  });

  it("brought by the operator, must come with its own key", () => {
    initCa(dir);
    const id = issuedServerIdentity(dir, loadCa(dir), ["localhost"]);
    writeFileSync(join(dir, "s.crt"), id.certPem);
    writeFileSync(join(dir, "wrong.key"), newKeyPair().keyPem);
    expect(() => ownServerIdentity(join(dir, "s.crt"), join(dir, "wrong.key"))).toThrow(/is not the key of that certificate/);
    expect(() => ownServerIdentity(join(dir, "missing.crt"), join(dir, "wrong.key"))).toThrow(/cannot read server certificate .*missing\.crt: ENOENT/);
  });
});
