// Where a helper program the agent wraps checks in (prlimit, setpriv) is: looked up once on PATH.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

const found = new Map<string, string | null>();

/** `name`'s path on PATH, looked up once per agent process; null when it is not installed. */
export function toolOnPath(name: string): string | null {
  const known = found.get(name);
  if (known !== undefined) return known;
  let path: string | null = null;
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(delimiter)) {
    const file = join(dir || ".", name);
    try {
      accessSync(file, constants.X_OK);
      path = file;
      break;
    } catch {
      // Not here.
    }
  }
  found.set(name, path);
  return path;
}
