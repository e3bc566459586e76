// Where a program is on PATH, the way a shell would find it (first executable match). Empty PATH
// entries are skipped rather than read as the current directory: the agent runs as root.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export function findOnPath(program: string, pathEnv = process.env.PATH ?? ""): string | undefined {
  for (const dir of pathEnv.split(delimiter).filter(Boolean)) {
    const file = join(dir, program);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here: keep looking
    }
  }
  return undefined;
}
