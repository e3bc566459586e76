import { describe, expect, it } from "vitest";
import { limitHit, type EndedProcess } from "../../agent/limits/limit-hit.js";
import { limitedArgv, wrapperExecFailure } from "../../agent/limits/prlimit.js";
import { cpuSeconds, defaultCheckMemoryBytes, effectiveLimits, parseCpuLimitFlag, parseMemoryLimitFlag, type ProcessLimits } from "../../shared/model/check-limits.js";
import { parsePlan } from "../../shared/model/plan.js";
import { parseSuite } from "../../shared/model/suite.js";
import { refusal } from "../support/refusal.js";

const GiB = 2 ** 30;
const MiB = 2 ** 20;


describe("limits: in a suite", () => {
  it("reads CPU seconds (rounded up) and memory bytes for a check and its then:, and leaves checks without limits to the agent", () => {
    const suite = parseSuite(
      `suite: s
checks:
  - id: heavy
    limits: { cpu: 1500ms, memory: 512MiB }
    command: { argv: ["true"] }
    then:
      limits: { cpu: 0 }
      command: { argv: ["true"] }
  - id: plain
    command: { argv: ["true"] }
`,
      "s.yaml",
    );
    const [heavy, plain] = suite.checks;
    expect(heavy?.limits).toEqual({ cpuSeconds: 2, memoryBytes: 512 * MiB });
    expect(heavy?.then?.limits).toEqual({ cpuSeconds: 0, memoryBytes: undefined });
    expect(plain?.limits).toBeUndefined();
  });

  it("refuses a memory limit no program could start under, naming file, line and field", () => {
    const err = refusal(() => parseSuite(`suite: s\nchecks:\n  - id: tiny\n    limits: { memory: 4096 }\n    command: { argv: ["true"] }\n`, "s.yaml"));
    expect(err.code).toBe("bad_input");
    expect(err.message).toMatch(/^s\.yaml:4:\d+ checks\[0\]\.limits\.memory: a memory limit below 16 MiB leaves no program room to start; give at least 16MiB, or 0 for no limit/);
  });

  it("refuses an unknown limit and a CPU time that is not a duration", () => {
    expect(refusal(() => parseSuite(`suite: s\nchecks:\n  - id: x\n    limits: { nproc: 10 }\n    command: { argv: ["true"] }\n`, "s.yaml")).message).toMatch(/nproc/);
    expect(refusal(() => parseSuite(`suite: s\nchecks:\n  - id: x\n    limits: { cpu: 10 }\n    command: { argv: ["true"] }\n`, "s.yaml")).message).toMatch(
      /limits\.cpu: .*expected a CPU time like 30s, 5m, or 0 for no limit/,
    );
  });

  it("is accepted on cross steps and matrix legs, which become one-check suites for the agent", () => {
    const plan = parsePlan(
      `plan: p
stages:
  - id: cross
    kind: cross
    roles: { a: { role: a }, b: { role: b } }
    steps:
      - { id: s1, on: a, limits: { cpu: 5s }, command: { argv: ["true"] } }
  - id: matrix
    kind: matrix
    legs:
      - { id: l1, on: { role: a }, limits: { memory: 1GiB }, command: { argv: ["true"] } }
`,
      "p.yaml",
    );
    expect(plan.stages).toHaveLength(2);
  });
});

describe("the limits a check runs with", () => {
  const agent: ProcessLimits = { cpuSeconds: 600, memoryBytes: 4 * GiB };

  it("are the agent's unless the check sets its own, one limit at a time; 0 lifts one", () => {
    expect(effectiveLimits(agent, undefined)).toEqual(agent);
    expect(effectiveLimits(agent, { cpuSeconds: 5 })).toEqual({ cpuSeconds: 5, memoryBytes: 4 * GiB });
    expect(effectiveLimits(agent, { memoryBytes: 0 })).toEqual({ cpuSeconds: 600, memoryBytes: 0 });
  });

  it("count CPU in whole seconds, never rounding a short limit down to none", () => {
    expect(cpuSeconds("1ms")).toBe(1);
    expect(cpuSeconds("10m")).toBe(600);
    expect(cpuSeconds(0)).toBe(0);
    expect(cpuSeconds("0s")).toBe(0);
  });

  it("default to half the node's memory, at most 4 GiB", () => {
    expect(defaultCheckMemoryBytes(2 * GiB)).toBe(GiB);
    expect(defaultCheckMemoryBytes(64 * GiB)).toBe(4 * GiB);
  });

  it("come from the flags with messages naming the flag", () => {
    expect(parseCpuLimitFlag("--check-cpu-limit", "90s")).toBe(90);
    expect(parseCpuLimitFlag("--check-cpu-limit", "0")).toBe(0);
    expect(parseMemoryLimitFlag("--check-memory-limit", "2GiB")).toBe(2 * GiB);
    expect(parseMemoryLimitFlag("--check-memory-limit", "0")).toBe(0);
    expect(refusal(() => parseCpuLimitFlag("--check-cpu-limit", "10")).message).toBe(
      '--check-cpu-limit: expected a duration like 500ms, 30s, 5m, 1h or 1m30s; got "10", a number without a unit: did you mean 10s? (0: no limit)',
    );
    expect(refusal(() => parseMemoryLimitFlag("--check-memory-limit", "1MiB")).message).toMatch(/^--check-memory-limit: 1 MiB: a memory limit below 16 MiB/);
  });
});

describe("prlimit around a check's argv", () => {
  it("sets RLIMIT_CPU with a hard limit 5 s above the soft one, and RLIMIT_DATA, before the argv", () => {
    expect(limitedArgv("/usr/bin/prlimit", { cpuSeconds: 60, memoryBytes: GiB }, ["sh", "-c", "x"])).toEqual([
      "/usr/bin/prlimit",
      "--cpu=60:65",
      `--data=${GiB}`,
      "--",
      "sh",
      "-c",
      "x",
    ]);
    expect(limitedArgv("/usr/bin/prlimit", { cpuSeconds: 0, memoryBytes: GiB }, ["true"])).toEqual(["/usr/bin/prlimit", `--data=${GiB}`, "--", "true"]);
  });

  it("leaves the argv alone when no limit is set", () => {
    const argv = ["true"];
    expect(limitedArgv("/usr/bin/prlimit", { cpuSeconds: 0, memoryBytes: 0 }, argv)).toBe(argv);
  });

  it("reads a command prlimit could not start as the spawn error a check without limits reports", () => {
    expect(wrapperExecFailure(127, "prlimit: failed to execute fleetgate-nope: No such file or directory\n")).toBe("spawn fleetgate-nope ENOENT");
    expect(wrapperExecFailure(126, "prlimit: failed to execute /tmp/x.sh: Permission denied\n")).toBe("spawn /tmp/x.sh EACCES");
    // A check exiting 127 on its own is its exit code, not a failure to start.
    expect(wrapperExecFailure(127, "sh: 1: nope: not found\n")).toBeUndefined();
    expect(wrapperExecFailure(1, "prlimit: failed to execute x: No such file or directory\n")).toBeUndefined();
  });
});

describe("limitHit", () => {
  const limits: ProcessLimits = { cpuSeconds: 60, memoryBytes: 256 * MiB };
  const ended = (p: Partial<EndedProcess>): EndedProcess => ({ exitCode: null, signal: null, stderr: "", timedOut: false, killedByAgent: false, ...p });

  it("names the CPU limit when SIGXCPU ended the process", () => {
    expect(limitHit(ended({ signal: "SIGXCPU" }), limits)).toBe("killed by SIGXCPU: CPU limit 60 s exceeded");
  });

  it("names the CPU hard limit for a SIGKILL the agent did not send", () => {
    expect(limitHit(ended({ signal: "SIGKILL" }), limits)).toBe(
      "killed by SIGKILL: CPU limit 60 s exceeded (SIGXCPU ignored, hard limit 65 s reached), unless the kernel's OOM killer sent it",
    );
    expect(limitHit(ended({ signal: "SIGKILL", killedByAgent: true }), limits)).toBeUndefined();
    expect(limitHit(ended({ signal: "SIGKILL" }), { cpuSeconds: 0, memoryBytes: 0 })).toBeUndefined();
  });

  it("names the memory limit when the program says an allocation failed", () => {
    const python = 'Traceback (most recent call last):\n  File "<string>", line 2, in <module>\nMemoryError\n';
    expect(limitHit(ended({ exitCode: 1, stderr: python }), limits)).toBe("memory limit 256 MiB exceeded: an allocation failed, exit 1: MemoryError");
    const node = "RangeError: Array buffer allocation failed\n    at createUnsafeBuffer (node:internal/buffer:1063:25)\n";
    expect(limitHit(ended({ exitCode: 1, stderr: node }), limits)).toBe("memory limit 256 MiB exceeded: an allocation failed, exit 1: RangeError: Array buffer allocation failed");
    const v8 = "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n";
    expect(limitHit(ended({ signal: "SIGABRT", stderr: v8 }), limits)).toMatch(/^memory limit 256 MiB exceeded: an allocation failed and it was killed by SIGABRT: FATAL ERROR/);
  });

  it("says a memory limit was in effect when the program crashed without a word", () => {
    expect(limitHit(ended({ signal: "SIGSEGV" }), limits)).toBe(
      "killed by SIGSEGV, with a memory limit 256 MiB in effect: an allocation beyond it fails, which some programs crash on",
    );
  });

  it("blames no limit for a timeout, a plain failure, a success, or when no limit was set", () => {
    expect(limitHit(ended({ signal: "SIGTERM", timedOut: true }), limits)).toBeUndefined();
    expect(limitHit(ended({ exitCode: 1, stderr: "connection refused\n" }), limits)).toBeUndefined();
    expect(limitHit(ended({ exitCode: 0, stderr: "MemoryError caught, retrying smaller\n" }), limits)).toBeUndefined();
    expect(limitHit(ended({ exitCode: 1, stderr: "MemoryError\n" }), { cpuSeconds: 0, memoryBytes: 0 })).toBeUndefined();
  });
});
