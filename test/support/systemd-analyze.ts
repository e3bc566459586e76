// systemd-analyze as the unit tests use it: `verify` against a root directory (so ExecStart=
// programs are looked up there, not on this host) and `security --offline=true` scores.
import { cpSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";

/** Where this host keeps its own units (sysinit.target, paths.target …) that ours refer to. */
const HOST_UNITS = "/lib/systemd/system";

/**
 * Copies the host's units into `root` so `verify --root` finds the targets ours depend on, and
 * creates the directories our units' ExecStart= programs will sit in.
 */
export function prepareVerifyRoot(root: string): void {
  if (!existsSync(join(root, "lib/systemd/system/sysinit.target"))) {
    cpSync(HOST_UNITS, join(root, "lib/systemd/system"), { recursive: true, verbatimSymlinks: true, force: false, errorOnExist: false });
  }
  mkdirSync(join(root, "usr/bin"), { recursive: true });
  mkdirSync(join(root, "etc"), { recursive: true });
}

export interface AnalyzeResult {
  exitCode: number;
  /** stdout and stderr together: verify prints its complaints on either. */
  output: string;
}

/** `systemd-analyze verify` of units in `root` (paths as inside the root, e.g. /lib/systemd/system/x.service). */
export async function verifyUnits(root: string, units: string[]): Promise<AnalyzeResult> {
  const r = await execa("systemd-analyze", ["verify", `--root=${root}`, "--man=no", ...units], { reject: false, all: true, timeout: 30_000 });
  return { exitCode: r.exitCode ?? -1, output: String(r.all ?? "").trim() };
}

/** The "Overall exposure level" of a unit file, as `systemd-analyze security --offline=true` rates it. */
export async function exposure(unitFile: string): Promise<number> {
  const r = await execa("systemd-analyze", ["security", "--offline=true", "--no-pager", unitFile], { reject: false, timeout: 30_000 });
  const m = /Overall exposure level for \S+: (\d+\.\d)/.exec(String(r.stdout));
  if (!m) throw new Error(`systemd-analyze security ${unitFile} (exit ${r.exitCode}) printed no exposure level:\n${r.stdout}\n${r.stderr}`);
  return Number(m[1]);
}

/** `security --threshold=N` passes when the unit scores at most N tenths; its exit code. */
export async function securityThresholdExit(unitFile: string, score: number): Promise<number> {
  const r = await execa("systemd-analyze", ["security", "--offline=true", "--no-pager", `--threshold=${Math.round(score * 10)}`, unitFile], { reject: false, timeout: 30_000 });
  return r.exitCode ?? -1;
}
