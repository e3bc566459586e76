import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadAgentConfig } from "../../agent/cli/config.js";
import { checkLimits } from "../../agent/cli/limit-flags.js";
import { buildProgram } from "../../agent/cli/main.js";
import { defaultCheckMemoryBytes } from "../../shared/model/check-limits.js";

const MiB = 2 ** 20;

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function help(command: string): string {
  const cmd = buildProgram().commands.find((c) => c.name() === command);
  if (!cmd) throw new Error(`no ${command} command`);
  return cmd.helpInformation();
}

describe("the agent's limit flags", () => {
  it("are in `run --help` with their defaults, and the memory ceiling's exit code", () => {
    const text = help("run").replace(/\s+/g, " ");
    expect(text).toContain("--max-memory <size>");
    expect(text).toContain("exits 75 for its supervisor to restart it; 0: none (default 1GiB)");
    expect(text).toContain("--check-cpu-limit <duration>");
    expect(text).toContain("(default 10m)");
    expect(text).toContain("--check-memory-limit <size>");
    expect(text).toContain("(default half the node's memory, at most 4GiB)");
  });

  it("are also on `check`, which limits checks as the daemon does", () => {
    const text = help("check");
    expect(text).toContain("--check-cpu-limit <duration>");
    expect(text).toContain("--check-memory-limit <size>");
  });

  it("take the flag over agent.yaml over the default", () => {
    expect(checkLimits({}, {})).toEqual({ cpuSeconds: 600, memoryBytes: defaultCheckMemoryBytes(totalmem()) });
    expect(checkLimits({}, { check_cpu_limit: 0, check_memory_limit: "512MiB" })).toEqual({ cpuSeconds: 0, memoryBytes: 512 * MiB });
    expect(checkLimits({ checkCpuLimit: "30s", checkMemoryLimit: "0" }, { check_cpu_limit: "5m", check_memory_limit: "512MiB" })).toEqual({ cpuSeconds: 30, memoryBytes: 0 });
  });

  it("are read from agent.yaml, and a wrong one there is refused naming the key", () => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-agent-yaml-"));
    const good = join(dir, "good.yaml");
    writeFileSync(good, "max_memory: 512MiB\ncheck_cpu_limit: 10m\ncheck_memory_limit: 2GiB\n");
    expect(loadAgentConfig(good, true)).toEqual({ max_memory: "512MiB", check_cpu_limit: "10m", check_memory_limit: "2GiB" });
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "check_cpu_limit: lots\n");
    expect(() => loadAgentConfig(bad, true)).toThrow(/bad\.yaml:1:\d+ check_cpu_limit/);
  });
});
