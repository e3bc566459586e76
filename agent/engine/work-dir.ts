// A task's work dir on the node: the files its suite shipped (`files:`), unpacked where relative
// paths and `cwd:` resolve, as they resolve against the suite's directory under
// `fleetgate-agent check`. One per task, mode 0700, under the agent's state dir; removed when the
// task ends, and any left by a crash are removed when the agent starts.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { checkShippedFiles, type ShippedFile } from "../../shared/model/suite-files.js";

/** Where work dirs go, under the agent's state dir. */
export function workRoot(stateDir: string): string {
  return join(stateDir, "work");
}

/** Removes every work dir under `root` (left by an agent that was killed mid-task); returns how many. */
export function removeStaleWorkDirs(root: string): number {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return 0;
  }
  for (const name of names) rmSync(join(root, name), { recursive: true, force: true });
  return names.length;
}

/**
 * Makes a fresh work dir under `root` and writes `files` into it (checked again here: the agent
 * trusts no path it is sent to stay inside the dir). Directories 0700, files 0600 or 0700.
 */
export function createWorkDir(root: string, suite: string, files: readonly ShippedFile[]): string {
  checkShippedFiles(suite, files);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const dir = mkdtempSync(join(root, "task-"));
  try {
    chmodSync(dir, 0o700);
    for (const f of files) {
      const target = join(dir, f.path);
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      // wx: a path the checks above let through twice still never overwrites.
      writeFileSync(target, f.content, { flag: "wx", mode: f.executable ? 0o700 : 0o600 });
    }
  } catch (err) {
    removeWorkDir(dir);
    throw err;
  }
  return dir;
}

export function removeWorkDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
