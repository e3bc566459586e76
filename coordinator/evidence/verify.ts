// `coord verify`: re-hash a bundle, compare with its manifest, check the signature when a key is
// given. checkBundle decides from bytes already read; verifyBundle reads them.
import type { KeyObject } from "node:crypto";
import { stat } from "node:fs/promises";
import { FleetgateError } from "../../shared/errors.js";
import { observeBundle, readBundleFile } from "./bundle-files.js";
import { compareFiles, type ObservedFile, type Problem } from "./compare.js";
import { MANIFEST_FILE, parseManifest, SIGNATURE_FILE, type Manifest } from "./manifest.js";
import { keyFingerprint, signatureMatches } from "./signing.js";

export interface BundleReading {
  manifest?: Uint8Array;
  signature?: string;
  /** Every entry except manifest.json and manifest.sig. */
  observed: Map<string, ObservedFile>;
}

export interface VerifyResult {
  ok: boolean;
  problems: Problem[];
  manifest?: Manifest;
  /** Files the manifest lists. */
  fileCount: number;
  /** "unchecked" when no key was given. */
  signature: "good" | "bad" | "missing" | "unchecked";
  keyFingerprint?: string;
}

function signatureProblem(state: VerifyResult["signature"], fingerprint: string): Problem | undefined {
  if (state === "missing") return { kind: "signature", message: `signature: no ${SIGNATURE_FILE}; the coordinator that wrote this bundle had no --signing-key` };
  if (state === "bad") {
    return { kind: "signature", message: `signature: ${SIGNATURE_FILE} does not match ${MANIFEST_FILE} under key ${fingerprint} (manifest altered, or signed by another key)` };
  }
  return undefined;
}

/** Pure: the problems of a bundle already read, and whether it is intact. */
export function checkBundle(reading: BundleReading, key?: KeyObject): VerifyResult {
  const fingerprint = key ? keyFingerprint(key) : undefined;
  if (!reading.manifest) {
    const problems: Problem[] = [{ kind: "manifest", message: `missing: ${MANIFEST_FILE} (not an evidence bundle, or its write never finished)` }];
    return { ok: false, problems, fileCount: 0, signature: key ? "missing" : "unchecked", keyFingerprint: fingerprint };
  }
  let manifest: Manifest;
  try {
    manifest = parseManifest(Buffer.from(reading.manifest).toString("utf8"));
  } catch (err) {
    return { ok: false, problems: [{ kind: "manifest", message: (err as Error).message }], fileCount: 0, signature: "unchecked", keyFingerprint: fingerprint };
  }
  const problems = compareFiles(manifest.files, reading.observed);
  let signature: VerifyResult["signature"] = "unchecked";
  if (key) signature = reading.signature === undefined ? "missing" : signatureMatches(reading.manifest, reading.signature, key) ? "good" : "bad";
  const sigProblem = signatureProblem(signature, fingerprint ?? "");
  if (sigProblem) problems.push(sigProblem);
  return { ok: problems.length === 0, problems, manifest, fileCount: Object.keys(manifest.files).length, signature, keyFingerprint: fingerprint };
}

export async function readBundle(dir: string): Promise<BundleReading> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new FleetgateError("bad_input", `${dir} is not a directory; pass a bundle directory (runs/<run-id>/ under the coordinator's state dir, or one written by coord export)`);
  const signature = await readBundleFile(dir, SIGNATURE_FILE);
  return { manifest: await readBundleFile(dir, MANIFEST_FILE), signature: signature?.toString("utf8"), observed: await observeBundle(dir) };
}

export async function verifyBundle(dir: string, key?: KeyObject): Promise<VerifyResult> {
  return checkBundle(await readBundle(dir), key);
}

/** The one line `coord verify` ends with. */
export function verdictLine(dir: string, r: VerifyResult): string {
  const run = r.manifest ? `run ${r.manifest.run_id}` : dir;
  const problems = `${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}`;
  if (!r.ok) return r.manifest ? `NOT INTACT: ${problems} in ${run} (${dir})` : `NOT INTACT: ${problems} in ${dir}`;
  const sig = r.signature === "good" ? `signature good (key ${r.keyFingerprint})` : "signature not checked (pass --key PUB)";
  return `intact: ${run}, ${r.fileCount} files match the manifest; ${sig}; verdict ${r.manifest?.verdict.decision ?? "?"}`;
}
