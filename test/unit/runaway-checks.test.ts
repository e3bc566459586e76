// Runaway checks against real processes under prlimit: a memory hog, a CPU spin and an output
// flood are contained, each reported failed with a message naming the limit (never passed), and
// the next check still runs.
import { describe, expect, it } from "vitest";
import { runSuite } from "../../agent/engine/run-suite.js";
import { DEFAULT_MAX_OUTPUT_BYTES, killRunningChecks, runProcess } from "../../agent/process.js";
import type { ProcessLimits } from "../../shared/model/check-limits.js";
import { RESULT_BUDGET } from "../../shared/model/limits.js";
import { Status, statusName } from "../../shared/model/status.js";
import { parseSuite } from "../../shared/model/suite.js";
import { needsTool } from "../support/system-tools.js";

const prlimit = needsTool("prlimit", "util-linux");
const python = needsTool("python3", "python3");

const MiB = 2 ** 20;
const AGENT_LIMITS: ProcessLimits = { cpuSeconds: 1, memoryBytes: 256 * MiB };

// Allocates 16 MiB at a time for ever; each byte written, so the memory is really taken.
const PYTHON_HOG = "a=[]\nwhile True: a.append(bytearray(b'x' * (16*1024*1024)))";
const NODE_HOG = "const a = []; for (;;) a.push(Buffer.alloc(16 * 1024 * 1024, 1));";
const FLOOD_BYTES = 2 * 1024 * MiB;

function suite(checks: string) {
  return parseSuite(`suite: runaway\nchecks:\n${checks}`, "runaway.yaml");
}

/** Runs `fn` while sampling this process's resident set; the largest growth seen. */
async function rssGrowthDuring<T>(fn: () => Promise<T>): Promise<{ value: T; growth: number }> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, growth: peak - before };
  } finally {
    clearInterval(timer);
  }
}

describe("a runaway check", () => {
  it.skipIf(!prlimit || !python)(
    "is contained whether it hogs memory, spins a CPU or floods its output; each is reported failed naming the limit, and the next check runs",
    async () => {
      const s = suite(`
  - id: python-hog
    command: { argv: [python3, -c, ${JSON.stringify(PYTHON_HOG)}] }
  - id: node-hog
    command: { argv: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(NODE_HOG)}] }
  - id: spin
    command: { argv: [sh, -c, "while :; do :; done"] }
  - id: flood
    command: { argv: [head, -c, "${FLOOD_BYTES}", /dev/zero] }
  - id: after
    command: { argv: [echo, still here], expect: { stdout: still here } }
`);
      const { value: out, growth } = await rssGrowthDuring(() => runSuite(s, { allowDestructive: false, env: process.env, limits: AGENT_LIMITS }));
      const by = Object.fromEntries(out.results.map((r) => [r.checkId, r]));

      expect(statusName(by["python-hog"]!.status)).toBe("failed");
      expect(by["python-hog"]!.summary).toBe("memory limit 256 MiB exceeded: an allocation failed, exit 1: MemoryError");
      expect(statusName(by["node-hog"]!.status)).toBe("failed");
      expect(by["node-hog"]!.summary).toMatch(/^memory limit 256 MiB exceeded: an allocation failed/);
      expect(statusName(by.spin!.status)).toBe("failed");
      expect(by.spin!.summary).toBe("killed by SIGXCPU: CPU limit 1 s exceeded");

      // The flood passes (it exits 0): what it printed is cut to its end, and the runner held
      // no more than a bounded tail of the 2 GiB, not the output.
      expect(statusName(by.flood!.status)).toBe("passed");
      expect(by.flood!.stdoutTail.length).toBeLessThanOrEqual(RESULT_BUDGET.outputTailBytes);
      expect(by.flood!.stdoutTail).toMatch(/^\[… \d+ bytes cut …\]\n/);
      expect(growth).toBeLessThan(FLOOD_BYTES / 4);

      expect(statusName(by.after!.status)).toBe("passed");
      expect(out.status).toBe(Status.FAILED);
    },
    60_000,
  );

  it.skipIf(!prlimit || !python)("takes a check's own limits over the agent's, and 0 lifts one", async () => {
    const s = suite(`
  - id: spin-longer
    limits: { cpu: 2s }
    command: { argv: [sh, -c, "while :; do :; done"] }
  - id: needs-300MiB
    limits: { memory: 0 }
    command: { argv: [python3, -c, "a = bytearray(b'x' * (300*1024*1024)); print(len(a))"], expect: { stdout: "314572800" } }
`);
    const out = await runSuite(s, { allowDestructive: false, env: process.env, limits: AGENT_LIMITS });
    expect(out.results.map((r) => [r.checkId, statusName(r.status), r.summary])).toEqual([
      ["spin-longer", "failed", "killed by SIGXCPU: CPU limit 2 s exceeded"],
      ["needs-300MiB", "passed", "exit 0"],
    ]);
  }, 30_000);

  it.skipIf(!prlimit)("is killed at the hard CPU limit when it ignores SIGXCPU, and the message says so", async () => {
    const s = suite(`
  - id: stubborn
    command: { argv: [${JSON.stringify(process.execPath)}, -e, "process.on('SIGXCPU', () => {}); for (;;) {}"] }
`);
    const out = await runSuite(s, { allowDestructive: false, env: process.env, limits: AGENT_LIMITS });
    expect(statusName(out.results[0]!.status)).toBe("failed");
    expect(out.results[0]!.summary).toBe("killed by SIGKILL: CPU limit 1 s exceeded (SIGXCPU ignored, hard limit 6 s reached), unless the kernel's OOM killer sent it");
  }, 30_000);
});

describe("runProcess under limits", () => {
  it.skipIf(!prlimit)("reports a program that does not exist as could not start, as without limits", async () => {
    const out = await runProcess({ argv: ["fleetgate-no-such-program"], timeoutMs: 5000, limits: AGENT_LIMITS });
    expect(out.spawnError).toBe("spawn fleetgate-no-such-program ENOENT");
    expect(out.exitCode).toBeNull();
    expect(out.limitHit).toBeUndefined();
  });

  it.skipIf(!prlimit)("keeps the exit code and output of a program within its limits", async () => {
    const out = await runProcess({ argv: ["sh", "-c", "echo out; echo err >&2; exit 3"], timeoutMs: 5000, limits: AGENT_LIMITS, maxOutputBytes: DEFAULT_MAX_OUTPUT_BYTES });
    expect(out).toMatchObject({ exitCode: 3, signal: null, stdout: "out\n", stderr: "err\n", timedOut: false });
    expect(out.limitHit).toBeUndefined();
    expect(out.spawnError).toBeUndefined();
  });

  it.skipIf(!prlimit)("does not blame a limit for the SIGKILL of a cancelled task", async () => {
    const running = runProcess({ argv: ["sleep", "30"], timeoutMs: 30_000, limits: AGENT_LIMITS });
    // runProcess registers the group as it spawns, before its first await: the cancel reaches it.
    expect(killRunningChecks()).toBe(1);
    const out = await running;
    expect(out.signal).toBe("SIGKILL");
    expect(out.limitHit).toBeUndefined();
  });
});
