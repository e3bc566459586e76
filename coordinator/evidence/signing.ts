// ed25519 signatures over manifest.json (node:crypto, no dependency). The coordinator holds the
// private key; whoever checks a bundle needs only the public one.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FleetgateError } from "../../shared/errors.js";

export const KEY_FILE = "fleetgate-ed25519.key";
export const PUBLIC_KEY_FILE = `${KEY_FILE.replace(/\.key$/, "")}.pub`;

/** `sha256:` and the first 16 hex digits of the public key's SPKI DER: short enough to compare by eye. */
export function keyFingerprint(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return `sha256:${createHash("sha256").update(pub.export({ type: "spki", format: "der" })).digest("hex").slice(0, 16)}`;
}

/** Writes a new key pair into `dir`: the private key 0600 (PKCS8 PEM), the public key (SPKI PEM). Never overwrites. */
export function generateSigningKey(dir: string): { keyFile: string; publicKeyFile: string; fingerprint: string } {
  const keyFile = join(dir, KEY_FILE);
  const publicKeyFile = join(dir, PUBLIC_KEY_FILE);
  // Bundles signed with an existing key verify only with its .pub: never replace either half.
  const existing = [keyFile, publicKeyFile].find((f) => existsSync(f));
  if (existing) throw new FleetgateError("conflict", `${existing} already exists; bundles signed with that key need it, so it is never overwritten: pick another --out`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  for (const [file, text, mode] of [
    [keyFile, privateKey.export({ type: "pkcs8", format: "pem" }) as string, 0o600],
    [publicKeyFile, publicKey.export({ type: "spki", format: "pem" }) as string, 0o644],
  ] as const) {
    writeFileSync(file, text, { mode, flag: "wx" });
  }
  return { keyFile, publicKeyFile, fingerprint: keyFingerprint(publicKey) };
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function requireEd25519(key: KeyObject, file: string, hint: string): KeyObject {
  if (key.asymmetricKeyType !== "ed25519") throw new FleetgateError("bad_input", `${file} is a ${key.asymmetricKeyType} key, not ed25519; ${hint}`);
  return key;
}

/** The coordinator's private key (`coord serve --signing-key FILE`). */
export function loadSigningKey(file: string): KeyObject {
  const pem = readPem(file, "signing key");
  try {
    return requireEd25519(createPrivateKey(pem), file, "make one with: coord keygen --out DIR");
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `${file} is not a PEM private key (${(err as Error).message}); make one with: coord keygen --out DIR`);
  }
}

/** A public key to check bundles with (`--key PUB`); a private key file works too. */
export function loadVerifyKey(file: string): KeyObject {
  const pem = readPem(file, "public key");
  try {
    return requireEd25519(createPublicKey(pem), file, `pass the ${PUBLIC_KEY_FILE} that coord keygen wrote`);
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `${file} is not a PEM public key (${(err as Error).message}); pass the ${PUBLIC_KEY_FILE} that coord keygen wrote`);
  }
}

/** manifest.sig: the base64 ed25519 signature of manifest.json's exact bytes, newline-terminated. */
export function signManifest(manifest: string, key: KeyObject): string {
  return `${sign(null, Buffer.from(manifest), key).toString("base64")}\n`;
}

export function signatureMatches(manifest: Uint8Array, signatureText: string, key: KeyObject): boolean {
  const sig = Buffer.from(signatureText.trim(), "base64");
  // ed25519 signatures are 64 bytes; anything else is not one (and verify() would throw).
  return sig.length === 64 && verify(null, manifest, key, sig);
}
