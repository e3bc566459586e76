// The coordinator's TLS material under STATE_DIR/tls: the CA that signs node certificates (made
// once by `coord ca init` or the first `coord serve`), and the server certificate, issued afresh
// at each start for the names and addresses of this host unless the operator brings their own.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FleetgateError } from "../../shared/errors.js";
import { CA_CERT_FILE, CA_KEY_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE, tlsDir } from "./paths.js";
import { newCa, newKeyPair, issueServerCertificate, type Ca } from "./issue.js";


const DAY_MS = 86_400_000;
const CA_TTL_MS = 10 * 365 * DAY_MS;
/** Re-issued at every start, so a short life costs nothing and a stolen server key expires soon. */
const SERVER_CERT_TTL_MS = 30 * DAY_MS;

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** A certificate and the private key for it, or a clear error naming the file that is wrong. */
function checkedPair(certPem: string, keyPem: string, certFile: string): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `${certFile} is not a PEM certificate`);
  }
  let matches = false;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `the key given with ${certFile} is not a PEM private key`);
  }
  if (!matches) throw new FleetgateError("bad_input", `the key given with ${certFile} is not the key of that certificate`);
}

function writeSecret(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

export interface CaInitOptions {
  /** Bring your own CA: its certificate and key files (PEM) are copied in. */
  certFile?: string;
  keyFile?: string;
  nowMs?: number;
}

/** Creates (or imports) the CA; refuses to replace one that exists, since every node certificate hangs on it. */
export function initCa(stateDir: string, opts: CaInitOptions = {}): { certPath: string; created: boolean } {
  const dir = tlsDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const certPath = join(dir, CA_CERT_FILE);
  if (existsSync(certPath)) return { certPath, created: false };
  let ca: Ca;
  if (opts.certFile || opts.keyFile) {
    if (!opts.certFile || !opts.keyFile) throw new FleetgateError("bad_input", "bring your own CA with both --cert FILE and --key FILE");
    ca = { certPem: readText(opts.certFile, "CA certificate"), keyPem: readText(opts.keyFile, "CA key") };
    checkedPair(ca.certPem, ca.keyPem, opts.certFile);
    if (!new X509Certificate(ca.certPem).ca) throw new FleetgateError("bad_input", `${opts.certFile} is not a CA certificate (basicConstraints CA:TRUE)`);
  } else {
    ca = newCa("fleetgate CA", opts.nowMs ?? Date.now(), CA_TTL_MS);
  }
  writeSecret(join(dir, CA_KEY_FILE), ca.keyPem);
  writeFileSync(certPath, ca.certPem, { mode: 0o644 });
  return { certPath, created: true };
}

export function loadCa(stateDir: string): Ca {
  const dir = tlsDir(stateDir);
  return { certPem: readText(join(dir, CA_CERT_FILE), "CA certificate"), keyPem: readText(join(dir, CA_KEY_FILE), "CA key") };
}

export interface ServerIdentity {
  certPem: string;
  keyPem: string;
  /** Where it came from, for the log line. */
  source: string;
}

/** The operator's own server certificate and key (coord serve --tls-cert/--tls-key). */
export function ownServerIdentity(certFile: string, keyFile: string): ServerIdentity {
  const certPem = readText(certFile, "server certificate");
  const keyPem = readText(keyFile, "server key");
  checkedPair(certPem, keyPem, certFile);
  return { certPem, keyPem, source: certFile };
}

/** A server certificate from our CA for `hosts`, written next to it (for openssl s_client and such). */
export function issuedServerIdentity(stateDir: string, ca: Ca, hosts: string[], nowMs = Date.now()): ServerIdentity {
  const keys = newKeyPair();
  const issued = issueServerCertificate(ca, keys.publicKeyPem, hosts, nowMs, SERVER_CERT_TTL_MS);
  const dir = tlsDir(stateDir);
  writeSecret(join(dir, SERVER_KEY_FILE), keys.keyPem);
  writeFileSync(join(dir, SERVER_CERT_FILE), issued.certPem, { mode: 0o644 });
  return { certPem: issued.certPem, keyPem: keys.keyPem, source: join(dir, SERVER_CERT_FILE) };
}
