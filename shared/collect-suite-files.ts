// Collects a suite's `files:` from beside it: each entry a path (a file, or a directory and all
// beneath it) or a glob (`*` and `?` within one path segment, `**` across any number), relative to
// the suite's directory. An entry that matches nothing is refused, so a typo fails here with its
// location instead of on the node as "No such file or directory". Dotfiles match like any file;
// directories reached through a symlink are not descended (a loop would never end).
import { readdirSync, readFileSync, statSync, type Stats } from "node:fs";
import { dirname, join, posix, resolve } from "node:path";
import { FleetgateError } from "./errors.js";
import { MAX_SUITE_FILES, MAX_SUITE_FILES_BYTES } from "./model/limits.js";
import { checkShippedFiles, shippedBytes, tooManyBytesError, type ShippedFile } from "./model/suite-files.js";
import type { Suite } from "./model/suite.js";

const GLOB = /[*?]/;

function segmentRegex(segment: string): RegExp {
  const body = segment.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
  return new RegExp(`^${body}$`);
}

/** Whether `path` (segments) matches `pattern` (segments, `**` spanning zero or more). */
export function globMatches(pattern: readonly string[], path: readonly string[]): boolean {
  const [head, ...rest] = pattern;
  if (head === undefined) return path.length === 0;
  if (head === "**") return globMatches(rest, path) || (path.length > 0 && globMatches(pattern, path.slice(1)));
  const [first, ...tail] = path;
  return first !== undefined && segmentRegex(head).test(first) && globMatches(rest, tail);
}

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** Every regular file under `dir`, as paths relative to `base` (`/`-separated), sorted. */
function filesUnder(base: string, rel: string, out: string[]): void {
  for (const entry of readdirSync(join(base, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) filesUnder(base, child, out);
    else if (entry.isFile()) out.push(child);
    else if (entry.isSymbolicLink() && statOf(join(base, child))?.isFile()) out.push(child);
  }
}

/** The suite-relative paths one `files:` entry names; empty when it matches nothing. */
export function expandEntry(suiteDir: string, pattern: string): string[] {
  const segments = pattern.split("/");
  const fixed = segments.findIndex((s) => GLOB.test(s));
  const prefix = (fixed < 0 ? segments : segments.slice(0, fixed)).join("/");
  const st = statOf(join(suiteDir, prefix));
  if (!st) return [];
  if (fixed < 0 && st.isFile()) return [pattern];
  if (!st.isDirectory()) return [];
  const found: string[] = [];
  filesUnder(suiteDir, prefix, found);
  // A directory named plainly ships all of it; a glob ships what it matches.
  const matched = fixed < 0 ? found : found.filter((p) => globMatches(segments, p.split("/")));
  return matched.sort();
}

/**
 * Reads the files `suite` ships, from beside `suiteFile`, checked as the coordinator and agent
 * check them (shared/model/suite-files.ts). Sizes are added up from stat before anything is read,
 * so a suite that names a 10 GB file is refused without reading it.
 */
export function collectSuiteFiles(suite: Suite, suiteFile: string): ShippedFile[] {
  const entries = suite.files ?? [];
  if (!entries.length) return [];
  const suiteDir = dirname(resolve(suiteFile));
  const paths = new Set<string>();
  for (const { pattern, where } of entries) {
    const matched = expandEntry(suiteDir, pattern);
    if (!matched.length) throw new FleetgateError("bad_input", `files: ${pattern} matches no file in ${dirname(suiteFile)}`, where);
    for (const p of matched) paths.add(p);
  }
  const sorted = [...paths].sort();
  if (sorted.length > MAX_SUITE_FILES) checkShippedFiles(suite.file, sorted.map((path) => ({ path, content: new Uint8Array(), executable: false })));
  const stats = sorted.map((path) => ({ path, st: statSync(join(suiteDir, path)) }));
  const estimate = shippedBytes(stats.map(({ path, st }) => ({ path, content: { length: st.size } as Uint8Array, executable: false })));
  if (estimate > MAX_SUITE_FILES_BYTES) throw tooManyBytesError(suite.file, estimate, stats.length, stats.map(({ path, st }) => ({ path, bytes: st.size })));
  const files = stats.map(({ path, st }) => ({ path: posix.normalize(path), content: readFileSync(join(suiteDir, path)), executable: (st.mode & 0o100) !== 0 }));
  checkShippedFiles(suite.file, files);
  return files;
}
