// What the one-file agent may contain, decided from esbuild's metafile: no coordinator code, no
// better-sqlite3 (nor what only it pulls in), no dev dependency, and no require() left for a
// package the bundle does not hold (a single executable's require loads built-in modules only).
// Pure: `npm run package` feeds it the metafile and package-lock.json and fails on any finding.
import { isBuiltin } from "node:module";

/** The coordinator's store: a native module the agent must never load (nor compile on a node). */
export const COORDINATOR_ONLY_ROOT = "better-sqlite3";

/**
 * require() calls the bundle may leave for packages it does not hold. None today: the last were
 * systeminformation's macOS temperature sensors, and the agent reads its facts itself (shared/facts.ts).
 */
export const OPTIONAL_EXTERNALS: ReadonlySet<string> = new Set<string>();

interface LockPackage {
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

export interface Lockfile {
  packages: Record<string, LockPackage>;
}

export interface PackageJson {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/**
 * The install path of the package a bundle input belongs to, as package-lock.json keys it:
 * "node_modules/a/node_modules/@s/b/lib/x.js" → "node_modules/a/node_modules/@s/b"; undefined for
 * our own files. What comes before the first node_modules/ is dropped: esbuild names files by
 * their real path, outside the checkout when node_modules is a symlink.
 */
export function packageKeyOfInput(path: string): string | undefined {
  const first = path.indexOf("node_modules/");
  if (first < 0) return undefined;
  const last = path.lastIndexOf("node_modules/");
  const parts = path.slice(last + "node_modules/".length).split("/");
  const name = parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
  return `${path.slice(first, last)}node_modules/${name}`;
}

/** The package name at an install path: "node_modules/a/node_modules/@s/b" → "@s/b". */
function nameOf(key: string): string {
  return key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);
}

/** Where Node finds dependency `name` of the package at `from`: its own node_modules, then each parent's. */
function resolveKey(lock: Lockfile, from: string, name: string): string | undefined {
  for (let dir = from; ; ) {
    const key = `${dir ? `${dir}/` : ""}node_modules/${name}`;
    if (lock.packages[key]) return key;
    if (!dir) return undefined;
    const at = dir.lastIndexOf("/node_modules/");
    dir = at < 0 ? "" : dir.slice(0, at);
  }
}

/** The install paths of every package reachable from the top-level packages `roots`. */
function closure(lock: Lockfile, roots: Iterable<string>): Set<string> {
  const seen = new Set<string>();
  const queue = [...roots].map((name) => `node_modules/${name}`);
  while (queue.length) {
    const key = queue.pop()!;
    const pkg = lock.packages[key];
    if (seen.has(key) || !pkg) continue;
    seen.add(key);
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      const found = resolveKey(lock, key, dep);
      if (found) queue.push(found);
    }
  }
  return seen;
}

/** Install path → why the agent bundle must not hold it. */
export type ForbiddenPackages = Map<string, string>;

/**
 * Packages installed only for development (the lockfile's `dev: true`, package.json's
 * devDependencies), and better-sqlite3 with what only it needs.
 */
export function forbiddenPackages(pkg: PackageJson, lock: Lockfile): ForbiddenPackages {
  const forbidden: ForbiddenPackages = new Map();
  const others = closure(lock, Object.keys(pkg.dependencies ?? {}).filter((d) => d !== COORDINATOR_ONLY_ROOT));
  for (const key of closure(lock, [COORDINATOR_ONLY_ROOT])) {
    if (!others.has(key)) forbidden.set(key, nameOf(key) === COORDINATOR_ONLY_ROOT ? `${COORDINATOR_ONLY_ROOT} is the coordinator's store` : `${nameOf(key)} is needed only by ${COORDINATOR_ONLY_ROOT}, the coordinator's store`);
  }
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key && entry.dev) forbidden.set(key, `${nameOf(key)} is a dev dependency`);
  }
  for (const name of Object.keys(pkg.devDependencies ?? {})) forbidden.set(`node_modules/${name}`, `${name} is a dev dependency`);
  return forbidden;
}

/** One line per bundle input that must not be there, saying why; empty when the bundle is clean. */
export function forbiddenInputs(inputs: Iterable<string>, forbidden: ForbiddenPackages): string[] {
  const found: string[] = [];
  for (const input of inputs) {
    const key = packageKeyOfInput(input);
    if (key === undefined) {
      if (/(^|\/)coordinator\//.test(input)) found.push(`${input}: coordinator code`);
      continue;
    }
    const why = forbidden.get(key);
    if (why) found.push(`${input}: ${why}`);
  }
  return found;
}

/** require()/import of modules the bundle does not hold and Node does not build in, which a single executable cannot load. */
export function unloadableExternals(externals: Iterable<string>): string[] {
  return [...new Set(externals)].filter((path) => !isBuiltin(path) && !OPTIONAL_EXTERNALS.has(path)).sort();
}
