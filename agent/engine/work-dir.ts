// A task's work dir on the node: the files its suite shipped (`files:`), unpacked where relative
// paths and `cwd:` resolve, as they resolve against the suite's directory under
// `fleetgate-agent check`. One per task, mode 0700, under the agent's state dir; removed when the
// task ends, and any left by a crash are removed when the agent starts.
//
// A task whose checks run as other users (`user:`) cannot work there: the state dir is 0700, so
// those users could not reach the files (bats opens its test file by absolute path). Its work dir
// is made in the agent's temp dir instead (under the unit's PrivateTmp=, which is the agent's own
// /tmp and goes away with the service), owned by that user, or, when the checks run as several
// users, readable by all of them and writable by none but the agent. A crash leaves it to that.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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

/** A user other than the agent that checks of the task run as. */
export interface WorkDirUser {
  uid: number;
  gid: number;
}

/**
 * Makes a fresh work dir under `root` and writes `files` into it (checked again here: the agent
 * trusts no path it is sent to stay inside the dir). Directories 0700, files 0600 or 0700. With
 * `users`, in the temp dir and theirs (see the top of this file).
 */
export function createWorkDir(root: string, suite: string, files: readonly ShippedFile[], users: readonly WorkDirUser[] = []): string {
  checkShippedFiles(suite, files);
  let dir: string;
  if (users.length) {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-task-"));
  } else {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    dir = mkdtempSync(join(root, "task-"));
  }
  try {
    chmodSync(dir, 0o700);
    const made = [dir];
    for (const f of files) {
      const target = join(dir, f.path);
      const parent = mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      if (parent) made.push(...parentsFrom(dir, dirname(target)));
      // wx: a path the checks above let through twice still never overwrites.
      writeFileSync(target, f.content, { flag: "wx", mode: f.executable ? 0o700 : 0o600 });
      made.push(target);
    }
    if (users.length) handOver(made, files, dir, users);
  } catch (err) {
    removeWorkDir(dir);
    throw err;
  }
  return dir;
}

/** The directories from just below `dir` down to `sub`. */
function parentsFrom(dir: string, sub: string): string[] {
  const out: string[] = [];
  for (let d = sub; d.length > dir.length; d = dirname(d)) out.push(d);
  return out;
}

/**
 * One user: it owns everything. Several, or an agent without CAP_CHOWN (a non-root agent holding
 * only CAP_SETUID and CAP_SETGID): all read, none writes (a file of one is no other's to change).
 */
function handOver(paths: string[], files: readonly ShippedFile[], dir: string, users: readonly WorkDirUser[]): void {
  const [only] = users;
  if (users.length === 1 && only) {
    try {
      for (const p of new Set(paths)) chownSync(p, only.uid, only.gid);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EPERM") throw err;
    }
  }
  const executable = new Set(files.filter((f) => f.executable).map((f) => join(dir, f.path)));
  const regular = new Set(files.map((f) => join(dir, f.path)));
  for (const p of new Set(paths)) chmodSync(p, !regular.has(p) || executable.has(p) ? 0o755 : 0o644);
}

export function removeWorkDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
