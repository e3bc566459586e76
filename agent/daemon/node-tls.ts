// The agent's side of TLS: the key pair it generates once and keeps (STATE_DIR/node.key, 0600 —
// the private key never leaves the node), the client certificate the coordinator issues for it
// (node.crt), and the CA it enrolled with, pinned in ca.crt: later connections trust that CA and
// no other, whatever --ca says, so a swapped CA file cannot redirect an enrolled node.
import { X509Certificate, createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FleetgateError } from "../../shared/errors.js";
import type { ChannelTls } from "../../shared/tls/channel.js";

const KEY_FILE = "node.key";
const CERT_FILE = "node.crt";
const PINNED_CA_FILE = "ca.crt";

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw FleetgateError.from(err, "bad_input", `cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`);
  }
}

function sameCertificate(a: string, b: string): boolean {
  try {
    return new X509Certificate(a).fingerprint256 === new X509Certificate(b).fingerprint256;
  } catch {
    return false;
  }
}

export class NodeTls {
  private readonly keyPem: string;
  readonly publicKeyPem: string;
  private certPem: string | undefined;
  private readonly caPem: string | undefined;
  /** Whether ca.crt is written yet: it is, once the coordinator accepted us over TLS with it. */
  private pinned: boolean;
  /** Why the key could not be kept on disk (a read-only state dir): it lives in memory until the agent stops. */
  unsaved: string | undefined;

  /** `caFile`: --ca. `stateDir` undefined keeps everything in memory (tests, one-off runs). */
  constructor(
    private readonly stateDir: string | undefined,
    caFile: string | undefined,
  ) {
    const path = (f: string) => (stateDir ? join(stateDir, f) : undefined);
    const pinnedCa = path(PINNED_CA_FILE) && readOptional(path(PINNED_CA_FILE)!);
    const givenCa = caFile ? readOptional(caFile) : undefined;
    if (caFile && givenCa === undefined) throw new FleetgateError("bad_input", `--ca ${caFile} does not exist; copy the coordinator's STATE_DIR/tls/ca.crt to this node`);
    if (pinnedCa && givenCa && !sameCertificate(pinnedCa, givenCa)) {
      throw new FleetgateError(
        "bad_input",
        `--ca ${caFile} is not the CA this agent enrolled with (${path(PINNED_CA_FILE)}); an enrolled node trusts only that one. ` +
          `To move this node to another coordinator, delete ${path(PINNED_CA_FILE)}, ${path(CERT_FILE)} and node.token and enroll again`,
      );
    }
    this.caPem = pinnedCa ?? givenCa;
    this.pinned = pinnedCa !== undefined;
    this.certPem = path(CERT_FILE) && readOptional(path(CERT_FILE)!);
    const key = this.loadOrCreateKey(path(KEY_FILE));
    this.keyPem = key;
    this.publicKeyPem = createPublicKey(key).export({ type: "spki", format: "pem" }).toString();
  }

  private loadOrCreateKey(file: string | undefined): string {
    const existing = file && readOptional(file);
    if (existing) return existing;
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
    if (file) {
      try {
        mkdirSync(this.stateDir!, { recursive: true, mode: 0o700 });
        writeFileSync(file, privateKey, { mode: 0o600 });
        chmodSync(file, 0o600);
      } catch (err) {
        // The agent still runs and reports (degraded); after a restart it has a new key, which the
        // coordinator refuses for an enrolled node: a state dir that cannot be written needs fixing.
        this.unsaved = `cannot save the node key ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; it is kept in memory, and after a restart this node must enroll again`;
      }
    }
    return privateKey;
  }

  /** What to dial with: undefined when no CA is known (plaintext, subject to the loopback rule). */
  channel(): ChannelTls | undefined {
    if (!this.caPem) return undefined;
    return { caPem: this.caPem, client: this.certPem ? { certPem: this.certPem, keyPem: this.keyPem } : undefined };
  }

  /** The coordinator accepted us over TLS: pin the CA (a certificate it issued comes to saveCertificate). */
  registered(): void {
    if (!this.caPem) return;
    if (!this.pinned && this.stateDir) {
      writeFileSync(join(this.stateDir, PINNED_CA_FILE), this.caPem, { mode: 0o644 });
      this.pinned = true;
    }
  }

  saveCertificate(certPem: string): void {
    this.certPem = certPem;
    if (this.stateDir) writeFileSync(join(this.stateDir, CERT_FILE), certPem, { mode: 0o644 });
  }
}
