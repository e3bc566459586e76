// A clone on a host without bats, nginx, … must pass `npm test` with one line per missing package,
// and CI (FLEETGATE_TEST_STRICT=1, every package installed) must fail on the same line instead of
// going quietly green.
import { execa } from "execa";
import { describe, expect, it } from "vitest";

const CONFIG = "test/unit/missing-tool/vitest.config.ts";

function runSpec(strict: boolean) {
  const env: Record<string, string | undefined> = { ...process.env, FLEETGATE_TEST_STRICT: strict ? "1" : undefined, CI: undefined, NO_COLOR: "1" };
  return execa("node_modules/.bin/vitest", ["run", "--config", CONFIG], {
    env,
    extendEnv: false,
    reject: false,
    all: true,
    timeout: 50_000,
    detached: true,
  });
}

describe("a test whose system tool is missing", () => {
  it("skips with one line naming the package to install, and the file's other tests still run", async () => {
    const run = await runSpec(false);
    expect(run.exitCode, run.all).toBe(0);
    const lines = run.all.split("\n").filter((line) => line.includes("skipped: "));
    expect(lines).toEqual(["skipped: fleetgate-no-such-tool not found; install it with: apt-get install -y fleetgate-no-such-package"]);
    expect(run.all).toMatch(/1 passed \| 1 skipped/);
  });

  it("fails instead under FLEETGATE_TEST_STRICT=1", async () => {
    const run = await runSpec(true);
    expect(run.exitCode, run.all).toBe(1);
    expect(run.all).toContain("fleetgate-no-such-tool not found; install it with: apt-get install -y fleetgate-no-such-package");
    expect(run.all).not.toContain("skipped: ");
  });
});
