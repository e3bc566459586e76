// manifest.json: what the bundle is (run, plan, verdict) and the sha256 of every other file.
// Signed as written, byte for byte, so it is serialised with sorted keys.
import { createHash } from "node:crypto";
import { FleetgateError } from "../../shared/errors.js";
import type { Decision } from "../judgement/types.js";
import { unsafePathReason } from "./paths.js";
import { sortedJson } from "./sorted-json.js";

export const MANIFEST_SCHEMA = "fleetgate.evidence/v1";
export const MANIFEST_FILE = "manifest.json";
export const SIGNATURE_FILE = "manifest.sig";

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  run_id: string;
  plan: string;
  plan_revision: string;
  verdict: { decision: Decision; reasons: string[] };
  /** ISO 8601, UTC. */
  created_at: string;
  /** Bundle-relative path → sha256 (hex), for every file except the manifest and its signature. */
  files: Record<string, string>;
}

export function sha256(content: string | Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

/** The manifest's bytes: what is written to manifest.json and what the signature covers. */
export function manifestText(m: Omit<Manifest, "schema">): string {
  return sortedJson({ ...m, schema: MANIFEST_SCHEMA });
}

/** Reads manifest.json text; refuses anything that is not a v1 manifest with safe paths. */
export function parseManifest(text: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `manifest.json is not JSON: ${(err as Error).message}`);
  }
  const m = value as Partial<Manifest> | null;
  if (!m || typeof m !== "object" || m.schema !== MANIFEST_SCHEMA) {
    throw new FleetgateError("bad_input", `manifest.json: schema is ${JSON.stringify(m?.schema)}, expected "${MANIFEST_SCHEMA}"`);
  }
  if (!m.files || typeof m.files !== "object") throw new FleetgateError("bad_input", "manifest.json has no files map");
  for (const [path, hash] of Object.entries(m.files)) {
    const unsafe = unsafePathReason(path);
    if (unsafe) throw new FleetgateError("bad_input", `manifest.json lists ${JSON.stringify(path)}: ${unsafe}`);
    if (path === MANIFEST_FILE || path === SIGNATURE_FILE) throw new FleetgateError("bad_input", `manifest.json lists ${path}, which it cannot cover`);
    if (typeof hash !== "string" || !/^[0-9a-f]{64}$/.test(hash)) throw new FleetgateError("bad_input", `manifest.json: ${path} has no sha256`);
  }
  return m as Manifest;
}
