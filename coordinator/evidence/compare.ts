// The tamper check itself: the manifest's hashes against what is on disk. Pure, so every kind of
// tampering is testable without a file.

/** What a bundle path is on disk: a regular file's hash, or something that is no file at all. */
export type ObservedFile = { sha256: string } | { special: "symlink" | "directory" | "other" };

export type ProblemKind = "missing" | "changed" | "added" | "manifest" | "signature";

export interface Problem {
  kind: ProblemKind;
  /** Bundle-relative path, when the problem is about one file. */
  path?: string;
  /** One line, as `coord verify` prints it. */
  message: string;
}

const short = (hash: string) => hash.slice(0, 12);

/** Every file added, changed or missing relative to the manifest, ordered by path. */
export function compareFiles(expected: Record<string, string>, observed: Map<string, ObservedFile>): Problem[] {
  const problems: Problem[] = [];
  for (const [path, want] of Object.entries(expected)) {
    const seen = observed.get(path);
    if (!seen) problems.push({ kind: "missing", path, message: `missing: ${path} (in the manifest, not on disk)` });
    else if ("special" in seen) problems.push({ kind: "changed", path, message: `changed: ${path} (a ${seen.special} on disk, a file in the manifest)` });
    else if (seen.sha256 !== want) problems.push({ kind: "changed", path, message: `changed: ${path} (sha256 ${short(seen.sha256)}… on disk, ${short(want)}… in the manifest)` });
  }
  for (const [path, seen] of observed) {
    if (path in expected) continue;
    const what = "special" in seen ? `a ${seen.special}` : "on disk";
    problems.push({ kind: "added", path, message: `added: ${path} (${what}, not in the manifest)` });
  }
  return problems.sort((a, b) => (a.path ?? "").localeCompare(b.path ?? "") || a.kind.localeCompare(b.kind));
}
