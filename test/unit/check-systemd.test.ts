import { describe, expect, it } from "vitest";
import { systemdCheck } from "../../agent/checks/systemd.js";
import { SystemdSpecSchema } from "../../shared/model/kinds/systemd.js";
import { fixtureIn, outcome, recordedIn } from "../fakes/recorded.js";
import type { FakeTools, ReplayRule } from "../fakes/scenario.js";
import { onPathEachTest } from "../fakes/on-path.js";

const fixture = fixtureIn("");
/** A `systemctl show` output file, as printed with rc 0. */
const shown = (rel: string) => outcome({ stdout: fixture(rel) });
const recorded = recordedIn(fixture);
const spec = (block: Record<string, unknown>) => SystemdSpecSchema.parse(block);
const evaluate = (block: Record<string, unknown>, seen: ReturnType<typeof outcome>) => systemdCheck.evaluate(spec(block), seen);

describe("systemd spec", () => {
  it("asks the system manager for an active unit unless told otherwise", () => {
    expect(spec({ unit: "bitcoind.service" })).toEqual({ unit: "bitcoind.service", scope: "system", state: "active" });
  });

  it("refuses unknown fields and a unit name systemctl would read as an option", () => {
    expect(SystemdSpecSchema.safeParse({ unit: "lnd.service", status: "active" }).success).toBe(false);
    expect(SystemdSpecSchema.safeParse({ unit: "--all" }).success).toBe(false);
    expect(SystemdSpecSchema.safeParse({ unit: "lnd.service", scope: "session" }).success).toBe(false);
  });
});

describe("systemdCheck.evaluate on recorded systemctl output", () => {
  it("passes an active running unit", () => {
    expect(evaluate({ unit: "bitcoind.service" }, shown("systemctl/show-7props-active-running.constructed.txt"))).toEqual({
      passed: true,
      summary: "bitcoind.service active (running)",
    });
  });

  it("fails a failed unit and says its SubState and Result", () => {
    expect(evaluate({ unit: "bitcoind.service" }, shown("systemctl/show-7props-failed.constructed.txt"))).toEqual({
      passed: false,
      summary: "expected ActiveState active, saw failed (SubState failed, Result exit-code)",
    });
  });

  it("fails an inactive unit", () => {
    expect(evaluate({ unit: "bitcoind.service" }, shown("systemctl/show-7props-inactive-dead.constructed.txt")).summary).toBe(
      "expected ActiveState active, saw inactive (SubState dead, Result success)",
    );
  });

  it("says a missing unit is not found, even when inactive was expected", () => {
    const seen = shown("systemctl/show-7props-not-found.constructed.txt");
    expect(evaluate({ unit: "lnd.service" }, seen)).toEqual({ passed: false, summary: "unit lnd.service not found" });
    expect(evaluate({ unit: "lnd.service", state: "inactive" }, seen).summary).toBe("unit lnd.service not found");
    expect(evaluate({ unit: "lnd.service", scope: "user" }, seen).summary).toBe("unit lnd.service not found by the user manager");
  });

  it("reads the real Rocky 9 captures, which print only four properties, the same way", () => {
    expect(evaluate({ unit: "x.service" }, shown("systemctl/show-LoadActiveSubUnitFile-active-running.txt")).passed).toBe(true);
    expect(evaluate({ unit: "x.service" }, shown("systemctl/show-LoadActiveSubUnitFile-not-found.txt")).summary).toBe("unit x.service not found");
  });

  it("does not depend on the order systemctl prints properties in", () => {
    const reversed = fixture("systemctl/show-7props-failed.constructed.txt").trimEnd().split("\n").reverse().join("\n");
    expect(evaluate({ unit: "bitcoind.service" }, outcome({ stdout: reversed })).summary).toBe(
      "expected ActiveState active, saw failed (SubState failed, Result exit-code)",
    );
  });

  it("compares SubState, Result and NRestarts when the spec asks, NRestarts as a number", () => {
    const failed = shown("systemctl/show-7props-failed.constructed.txt");
    expect(evaluate({ unit: "a.service", state: "failed", result: "exit-code", restarts: 5 }, failed).passed).toBe(true);
    expect(evaluate({ unit: "a.service", state: "failed", restarts: { lte: 3 } }, failed).summary).toBe(
      "expected NRestarts <= 3, saw 5 (ActiveState failed, SubState failed, Result exit-code)",
    );
    const running = shown("systemctl/show-7props-active-running.constructed.txt");
    expect(evaluate({ unit: "a.service", sub_state: "exited" }, running).summary).toBe(
      "expected SubState exited, saw running (ActiveState active, Result success)",
    );
    expect(evaluate({ unit: "a.service", state: { one_of: ["active", "reloading"] }, restarts: 0 }, running).passed).toBe(true);
  });

  it("says systemctl could not answer when systemd is not PID 1, quoting its first stderr line", () => {
    expect(evaluate({ unit: "bitcoind.service" }, recorded("systemctl/show-no-systemd-pid1"))).toEqual({
      passed: false,
      summary:
        "systemctl could not answer about bitcoind.service (exit 1): System has not been booted with systemd as init system (PID 1). Can't operate.",
    });
  });

  it("says systemctl --user could not answer when there is no user bus", () => {
    expect(evaluate({ unit: "lnd.service", scope: "user" }, recorded("systemctl/user-is-active-no-bus")).summary).toBe(
      "systemctl --user could not answer about lnd.service (exit 1): Failed to connect to bus: No medium found",
    );
  });
});

describe("systemdCheck through a fake systemctl replaying fixtures", () => {
  const installFakes = onPathEachTest();
  let fakes: FakeTools | undefined;

  async function run(block: Record<string, unknown>, rule: Omit<ReplayRule, "tool">) {
    fakes = installFakes(["systemctl"], [{ tool: "systemctl", ...rule }]);
    const s = spec(block);
    return systemdCheck.evaluate(s, await systemdCheck.observe(s, { timeoutMs: 10_000, maxOutputBytes: 65_536 }));
  }
  // The set the show-7props-* fixtures answer; the brief and the fixtures name the same seven.
  const properties = "Result,NRestarts,ExecMainStatus,LoadState,ActiveState,SubState,UnitFileState";

  it("asks the system manager for the seven properties and passes an active unit", async () => {
    const verdict = await run({ unit: "bitcoind.service" }, { args: "^show bitcoind", stdout: "systemctl/show-7props-active-running.constructed.txt" });
    expect(verdict).toEqual({ passed: true, summary: "bitcoind.service active (running)" });
    expect(fakes?.calls()).toEqual([{ tool: "systemctl", args: ["show", "bitcoind.service", "-p", properties] }]);
  });

  it("asks the user manager with --user and fails a failed unit", async () => {
    const verdict = await run({ unit: "lnd.service", scope: "user" }, { args: "^--user show lnd", stdout: "systemctl/show-7props-failed.constructed.txt" });
    expect(verdict.summary).toBe("expected ActiveState active, saw failed (SubState failed, Result exit-code)");
    expect(fakes?.calls()).toEqual([{ tool: "systemctl", args: ["--user", "show", "lnd.service", "-p", properties] }]);
  });

  it("fails a unit systemd does not know as not found", async () => {
    const verdict = await run({ unit: "electrumx.service" }, { args: "^show", stdout: "systemctl/show-7props-not-found.constructed.txt" });
    expect(verdict).toEqual({ passed: false, summary: "unit electrumx.service not found" });
  });

  it("fails with systemctl's own words on a host without systemd as PID 1", async () => {
    const verdict = await run({ unit: "bitcoind.service" }, { args: "^show", fixture: "systemctl/show-no-systemd-pid1" });
    expect(verdict.passed).toBe(false);
    expect(verdict.summary).toMatch(/^systemctl could not answer about bitcoind\.service \(exit 1\): System has not been booted/);
  });

  it("fails with systemctl's own words when the user bus is missing", async () => {
    const verdict = await run({ unit: "lnd.service", scope: "user" }, { args: "^--user show", fixture: "systemctl/user-is-active-no-bus" });
    expect(verdict.summary).toBe("systemctl --user could not answer about lnd.service (exit 1): Failed to connect to bus: No medium found");
  });
});
