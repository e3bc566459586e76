// Where a bundle lives and how names from runs become file names inside it. Everything that ends
// up in a path — node names (agents choose them), suite paths (`../common/base.yaml`), paths sent
// by a server — passes through here, so no bundle file can land outside its bundle.
import { isAbsolute, join, posix, resolve } from "node:path";
import { FleetgateError } from "../../shared/errors.js";

/** The default bundle root under the coordinator's state dir. */
export const RUNS_DIR = "runs";
const RUN_ID_VAR = "${run.id}";

/**
 * One path segment from an arbitrary name: characters other than letters, digits, `.`, `_` and
 * `-` become `_`, and so does a leading `.` (never `..`, never hidden like our temp dirs).
 */
export function safeSegment(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\./, "_") || "_";
}

/**
 * A suite path as the plan wrote it, as a path inside `suites/`: `..` segments become `_up_` and
 * a leading `/` is dropped, so `../common/base.yaml` is kept as `suites/_up_/common/base.yaml`.
 */
export function suiteFilePath(suitePath: string): string {
  const segments = posix.normalize(suitePath.replace(/\\/g, "/")).split("/").filter((s) => s !== "" && s !== ".");
  return posix.join("suites", ...segments.map((s) => (s === ".." ? "_up_" : safeSegment(s))));
}

/** Why a bundle-relative path is unsafe to join onto a directory, or undefined when it is safe. */
export function unsafePathReason(path: string): string | undefined {
  if (path === "") return "empty path";
  if (path.includes("\0")) return "NUL in path";
  if (path.includes("\\")) return "backslash in path";
  if (path.startsWith("/") || isAbsolute(path)) return "absolute path";
  const segments = path.split("/");
  if (segments.some((s) => s === "..")) return "'..' in path";
  if (segments.some((s) => s === "" || s === ".")) return "empty or '.' segment in path";
  return undefined;
}

/**
 * Where run `runId`'s bundle goes. Default `<root>/<run-id>`; a plan's `evidence.dir` overrides
 * the root (relative to the state dir), and when it holds `${run.id}` it names the bundle itself:
 * `evidence/${run.id}` → `STATE_DIR/evidence/<run-id>`.
 */
export function bundleDir(loc: { root: string; stateDir: string }, runId: string, evidenceDir?: string): string {
  const id = safeSegment(runId);
  if (!evidenceDir) return join(loc.root, id);
  // `..` is refused rather than resolved: retention deletes bundle directories, and a plan must
  // not be able to point that at a parent of the evidence it names.
  if (evidenceDir.split(/[\\/]/).includes("..")) {
    throw new FleetgateError("bad_input", `evidence.dir "${evidenceDir}" contains '..'; name a directory below the state dir or an absolute path`);
  }
  const base = resolve(loc.stateDir, evidenceDir.split(RUN_ID_VAR).join(id));
  return evidenceDir.includes(RUN_ID_VAR) ? base : join(base, id);
}
