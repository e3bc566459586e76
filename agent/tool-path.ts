// Where a helper program the agent wraps checks in (prlimit, setpriv) is: looked up once on PATH.
import { findOnPath } from "../shared/path-lookup.js";

const found = new Map<string, string | null>();

/** `name`'s path on PATH, looked up once per agent process; null when it is not installed. */
export function toolOnPath(name: string): string | null {
  const known = found.get(name);
  if (known !== undefined) return known;
  const path = findOnPath(name, process.env.PATH ?? "/usr/bin:/bin") ?? null;
  found.set(name, path);
  return path;
}
