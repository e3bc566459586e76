import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runProcess } from "../../agent/process.js";
import { fakeTools, FIXTURES, type FakeTools } from "../fakes/scenario.js";

describe("fake tools replaying recorded fixtures", () => {
  let fakes: FakeTools | undefined;
  afterEach(() => fakes?.cleanup());

  it("replays a fixture's stdout, stderr and exit code byte for byte", async () => {
    fakes = fakeTools(["podman"], [{ tool: "podman", args: "^inspect", fixture: "podman/inspect-missing" }]);
    const out = await runProcess({ argv: ["podman", "inspect", "lnd"], env: fakes.env, timeoutMs: 5000 });
    expect(out.exitCode).toBe(Number(readFileSync(join(FIXTURES, "podman/inspect-missing.rc"), "utf8")));
    expect(out.stderr).toBe(readFileSync(join(FIXTURES, "podman/inspect-missing.stderr"), "utf8"));
    expect(fakes.calls()).toEqual([{ tool: "podman", args: ["inspect", "lnd"] }]);
  });

  it("fails loudly with 127 when no rule matches, so a test cannot pass on an unplanned call", async () => {
    fakes = fakeTools(["systemctl"], [{ tool: "systemctl", args: "^is-active", fixture: "systemctl/is-active-no-systemd-pid1" }]);
    const out = await runProcess({ argv: ["systemctl", "show", "x"], env: fakes.env, timeoutMs: 5000 });
    expect(out.exitCode).toBe(127);
    expect(out.stderr).toContain("no scenario rule for: systemctl show x");
  });
});
