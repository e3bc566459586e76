// How a check's limits are applied: its argv runs under util-linux `prlimit`, which sets the
// limits on itself and then execs the command, so the check keeps its pid, its process group
// and its exit status, and every process it starts inherits the limits.
//
// Memory is RLIMIT_DATA, not RLIMIT_AS. RLIMIT_AS counts address space a program only reserves:
// under `prlimit --as=4GiB`, `node -e 'new WebAssembly.Memory({initial: 1})'` fails (V8 reserves
// ~10 GiB of guard pages for it), and so does any program that reserves address space up front
// and commits it as it goes. RLIMIT_DATA (Linux >= 4.7) counts private writable mappings and the
// heap: what a leaking or runaway program really allocates (the same line runs fine under
// `--data=1GiB`). Both are per process: a check that forks many hogs is limited per hog, not in
// total (a cgroup v2 memory.max would be; not used yet, prlimit works on every Debian host).
//
// CPU is RLIMIT_CPU: SIGXCPU at the limit, SIGKILL CPU_HARD_GRACE_S later for a program that
// catches SIGXCPU. The check's `timeout` still bounds its wall-clock time.
import type { ProcessLimits } from "../../shared/model/check-limits.js";
import { toolOnPath } from "../tool-path.js";

/** Seconds between the soft CPU limit (SIGXCPU) and the hard one (SIGKILL). */
export const CPU_HARD_GRACE_S = 5;

/** Pure: `argv` under prlimit with `limits`, or `argv` itself when no limit is set. */
export function limitedArgv(prlimit: string, limits: ProcessLimits, argv: string[]): string[] {
  const opts: string[] = [];
  if (limits.cpuSeconds > 0) opts.push(`--cpu=${limits.cpuSeconds}:${limits.cpuSeconds + CPU_HARD_GRACE_S}`);
  if (limits.memoryBytes > 0) opts.push(`--data=${limits.memoryBytes}`);
  return opts.length ? [prlimit, ...opts, "--", ...argv] : argv;
}

const ERRNO: Record<string, string> = { "No such file or directory": "ENOENT", "Permission denied": "EACCES" };

/**
 * Pure: the command a wrapper (prlimit, or setpriv for `user:`) could not start, said as an
 * unwrapped check says it ("spawn X ENOENT"), or undefined. Both exit 127 (not found) or 126 (not
 * executable) and print "prlimit: failed to execute X: No such file or directory" (setpriv the
 * same with its name: test/fixtures/setpriv/).
 */
export function wrapperExecFailure(exitCode: number | null, stderr: string): string | undefined {
  if (exitCode !== 126 && exitCode !== 127) return undefined;
  const m = /^(?:prlimit|setpriv): failed to execute (.*): ([^:\n]+)$/m.exec(stderr);
  if (!m) return undefined;
  return `spawn ${m[1]} ${ERRNO[m[2] as string] ?? m[2]}`;
}

/** What the agent says when it cannot limit checks. */
export const PRLIMIT_MISSING = "prlimit not found (Debian package util-linux): checks run without CPU and memory limits";

/** prlimit's path on PATH, looked up once; null when util-linux's prlimit is not installed. */
export function prlimitPath(): string | null {
  return toolOnPath("prlimit");
}
