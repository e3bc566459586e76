// A bundle directory as it is on disk: its entries, and the sha256 of each regular file.
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ObservedFile } from "./compare.js";
import { MANIFEST_FILE, sha256, SIGNATURE_FILE } from "./manifest.js";

export interface BundleEntry {
  /** Bundle-relative, `/`-separated. */
  path: string;
  kind: "file" | "symlink" | "directory" | "other";
}

/**
 * Every entry under `dir`, sorted by path; directories are descended into (and listed only when
 * empty, since an empty directory is not in any manifest either). Symlinks are never followed.
 */
export async function walkBundle(dir: string, prefix = ""): Promise<BundleEntry[]> {
  const out: BundleEntry[] = [];
  const entries = (await readdir(join(dir, prefix), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const path = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) {
      const inner = await walkBundle(dir, path);
      out.push(...(inner.length ? inner : [{ path, kind: "directory" as const }]));
    } else out.push({ path, kind: e.isFile() ? "file" : e.isSymbolicLink() ? "symlink" : "other" });
  }
  return out;
}

/** What verification compares against the manifest: every entry but the manifest and its signature. */
export async function observeBundle(dir: string): Promise<Map<string, ObservedFile>> {
  const observed = new Map<string, ObservedFile>();
  for (const e of await walkBundle(dir)) {
    if (e.path === MANIFEST_FILE || e.path === SIGNATURE_FILE) continue;
    observed.set(e.path, e.kind === "file" ? { sha256: sha256(await readFile(join(dir, e.path))) } : { special: e.kind });
  }
  return observed;
}

/** The bytes of a bundle-level file, or undefined when it is absent or not a regular file. */
export async function readBundleFile(dir: string, path: string): Promise<Buffer | undefined> {
  const file = join(dir, path);
  const st = await lstat(file).catch(() => undefined);
  return st?.isFile() ? readFile(file) : undefined;
}
