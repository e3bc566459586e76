import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { orphanReasons, quadletCheck, type QuadletObserved } from "../../agent/checks/quadlet.js";
import { describeContainerUnit, parseUnitFile, quadletSearchPaths, type ContainerUnit } from "../../agent/checks/quadlet-units.js";
import type { ProcessOutcome } from "../../agent/process.js";
import { QuadletSpecSchema } from "../../shared/model/kinds/quadlet.js";
import { FIXTURES, type FakeTools, type ReplayRule } from "../fakes/scenario.js";
import { onPathEachTest } from "../fakes/on-path.js";

const fixture = (rel: string) => readFileSync(join(FIXTURES, rel), "utf8");
const outcome = (over: Partial<ProcessOutcome>): ProcessOutcome => ({ exitCode: 0, signal: null, stdout: "", stderr: "", timedOut: false, durationMs: 3, ...over });
const unitOf = (path: string, text: string) => describeContainerUnit(path, text) as ContainerUnit;
// Unit files are test input, not tool output: the names match the containers recorded in podman/ps-a.json.
const named = (container?: string) => `[Container]\nImage=localhost/busybox-fixture:latest\n${container ? `ContainerName=${container}\n` : ""}`;

describe("parseUnitFile on upstream Quadlet files, verbatim", () => {
  it("skips the ## assert-… annotations and comments and keeps the [Container] keys", () => {
    const unit = parseUnitFile(fixture("quadlet/upstream-e2e-basic.container"));
    expect([...unit.keys()]).toEqual(["Container"]);
    expect(unit.get("Container")?.get("Image")).toEqual(["localhost/imagename"]);
  });

  it("reads every section of the documented example, values as written", () => {
    const unit = parseUnitFile(fixture("quadlet/docs-example-test.container"));
    expect([...unit.keys()]).toEqual(["Unit", "Container", "Service", "Install"]);
    expect(unit.get("Container")?.get("Exec")).toEqual(["sleep 60"]);
    expect(unit.get("Install")?.get("WantedBy")).toEqual(["multi-user.target default.target"]);
    expect(unit.get("Container")?.get("HealthCmd")).toBeUndefined();
    expect(parseUnitFile(fixture("quadlet/upstream-e2e-health.container")).get("Container")?.get("HealthCmd")).toEqual(['"hello world"']);
  });

  it("joins a backslash-continued value and keeps repeated keys in order", () => {
    const install = parseUnitFile(fixture("quadlet/upstream-e2e-install.container")).get("Install");
    expect(install?.get("Alias")).toEqual(['alias.service "another-alias.service"', "in/a/dir/alias3.service"]);
    expect(install?.get("WantedBy")).toEqual(["want1.service want2.service", "want3.service"]);
  });
});

describe("describeContainerUnit", () => {
  it("names the service after the file and the container systemd-NAME by default", () => {
    expect(describeContainerUnit("/etc/containers/systemd/lnd.container", fixture("quadlet/upstream-e2e-basic.container"))).toEqual({
      path: "/etc/containers/systemd/lnd.container",
      file: "lnd.container",
      service: "lnd.service",
      container: "systemd-lnd",
    });
  });

  it("honours ContainerName= and ServiceName=, whose name also feeds the default %N", () => {
    expect(unitOf("/q/lnd.container", named("lnd-fixture"))).toMatchObject({ service: "lnd.service", container: "lnd-fixture" });
    const renamed = unitOf("/q/lnd.container", "[Container]\nImage=x\nServiceName=lnd-app\n");
    expect(renamed).toMatchObject({ service: "lnd-app.service", container: "systemd-lnd-app" });
    expect(unitOf("/q/lnd.container", "[Container]\nContainerName=%N-ui\n").container).toBe("lnd-ui");
  });

  it("leaves templates out and names an instance's container systemd-PREFIX_INSTANCE", () => {
    expect(describeContainerUnit("/q/web@.container", named())).toBeUndefined();
    expect(unitOf("/q/web@a.container", named())).toMatchObject({ service: "web@a.service", container: "systemd-web_a" });
  });
});

describe("quadletSearchPaths", () => {
  it("searches /run, /etc and /usr/share for the system manager", () => {
    expect(quadletSearchPaths("system", { home: "/root", uid: 0 })).toEqual(["/run/containers/systemd", "/etc/containers/systemd", "/usr/share/containers/systemd"]);
  });

  it("searches the user's config dir (XDG_CONFIG_HOME, else ~/.config) and the users/ dirs for a user", () => {
    const paths = quadletSearchPaths("user", { home: "/home/archy", uid: 1000 });
    expect(paths).toEqual([
      "/home/archy/.config/containers/systemd",
      "/etc/containers/systemd/users/1000",
      "/etc/containers/systemd/users",
      "/usr/share/containers/systemd/users/1000",
      "/usr/share/containers/systemd/users",
    ]);
    const xdg = quadletSearchPaths("user", { home: "/home/archy", uid: 1000, XDG_CONFIG_HOME: "/cfg", XDG_RUNTIME_DIR: "/run/user/1000" });
    expect(xdg.slice(0, 2)).toEqual(["/run/user/1000/containers/systemd", "/cfg/containers/systemd"]);
  });
});

describe("quadletCheck.evaluate on recorded podman and systemctl output", () => {
  const spec = QuadletSpecSchema.parse({ scope: "user", orphans: "none" });
  const observed = (units: ContainerUnit[], ps: string, show: ProcessOutcome): QuadletObserved => ({
    dirs: ["/q"],
    units,
    unreadable: [],
    containers: outcome({ stdout: fixture(ps) }),
    services: units.map((u) => ({ service: u.service, outcome: show })),
    timeoutMs: 10_000,
  });
  const active = outcome({ stdout: fixture("systemctl/show-7props-active-running.constructed.txt") });

  it("passes when every unit's container exists", () => {
    const units = [unitOf("/q/lnd.container", named("lnd-fixture")), unitOf("/q/plain.container", named("plain-fixture"))];
    expect(quadletCheck.evaluate(spec, observed(units, "podman/ps-a.json", active))).toEqual({ passed: true, summary: "2 .container unit(s), none orphaned" });
  });

  it("names a unit whose container does not exist", () => {
    const units = [unitOf("/q/lnd.container", fixture("quadlet/upstream-e2e-basic.container"))];
    expect(quadletCheck.evaluate(spec, observed(units, "podman/ps-a.json", active))).toEqual({
      passed: false,
      summary: "lnd.container: no container named systemd-lnd",
    });
  });

  it("counts a service stuck activating as orphaned, with both reasons on one line", () => {
    const unit = unitOf("/q/lnd.container", named());
    expect(orphanReasons(unit, new Set(), "activating")).toEqual(["no container named systemd-lnd", "service lnd.service activating"]);
    expect(orphanReasons(unit, new Set(["systemd-lnd"]), "active")).toEqual([]);
  });

  it("fails, rather than finding no orphans, when systemctl --user cannot answer", () => {
    const noBus = outcome({ exitCode: 1, stderr: fixture("systemctl/user-is-active-no-bus.stderr") });
    const units = [unitOf("/q/lnd.container", named("lnd-fixture"))];
    expect(quadletCheck.evaluate(spec, observed(units, "podman/ps-a.json", noBus)).summary).toBe(
      "systemctl --user could not answer about lnd.service (exit 1): Failed to connect to bus: No medium found",
    );
  });
});

describe("quadletCheck through fake podman and systemctl replaying fixtures", () => {
  let dir: string;
  const installFakes = onPathEachTest();
  let fakes: FakeTools | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-quadlet-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function check(block: Record<string, unknown>, units: Record<string, string>, rules: ReplayRule[]) {
    for (const [file, text] of Object.entries(units)) writeFileSync(join(dir, file), text);
    fakes = installFakes(["podman", "systemctl"], rules);
    const spec = QuadletSpecSchema.parse({ orphans: "none", dirs: [dir], ...block });
    return quadletCheck.evaluate(spec, await quadletCheck.observe(spec, { timeoutMs: 10_000, maxOutputBytes: 65_536 }));
  }
  const psAll: ReplayRule = { tool: "podman", args: "^ps -a --format json$", stdout: "podman/ps-a.json" };
  const showActive: ReplayRule = { tool: "systemctl", args: "(^| )show ", stdout: "systemctl/show-7props-active-running.constructed.txt" };

  it("passes when each unit's container exists, asking podman once and systemctl --user per service", async () => {
    const verdict = await check({ scope: "user" }, { "lnd.container": named("lnd-fixture"), "plain.container": named("plain-fixture") }, [psAll, showActive]);
    expect(verdict).toEqual({ passed: true, summary: "2 .container unit(s), none orphaned" });
    expect(fakes?.calls()).toEqual([
      { tool: "podman", args: ["ps", "-a", "--format", "json"] },
      { tool: "systemctl", args: ["--user", "show", "lnd.service", "-p", "ActiveState,SubState"] },
      { tool: "systemctl", args: ["--user", "show", "plain.service", "-p", "ActiveState,SubState"] },
    ]);
  });

  it("fails naming the one unit whose default container systemd-lnd does not exist", async () => {
    const verdict = await check({ scope: "user" }, { "lnd.container": named(), "plain.container": named("plain-fixture") }, [psAll, showActive]);
    expect(verdict).toEqual({ passed: false, summary: "lnd.container: no container named systemd-lnd" });
  });

  it("names every orphan when podman has no containers at all", async () => {
    const none: ReplayRule = { tool: "podman", args: "^ps", stdout: "podman/ps-running-none.json" };
    const verdict = await check({ scope: "system" }, { "lnd.container": named("lnd-fixture"), "web.container": named() }, [none, showActive]);
    expect(verdict.summary).toBe("lnd.container: no container named lnd-fixture | web.container: no container named systemd-web");
    expect(fakes?.calls()[1]).toEqual({ tool: "systemctl", args: ["show", "lnd.service", "-p", "ActiveState,SubState"] });
  });

  it("fails with systemctl's words on a host without systemd as PID 1", async () => {
    const noSystemd: ReplayRule = { tool: "systemctl", args: "^show", fixture: "systemctl/show-no-systemd-pid1" };
    const verdict = await check({ scope: "system" }, { "lnd.container": named("lnd-fixture") }, [psAll, noSystemd]);
    expect(verdict.summary).toMatch(/^systemctl could not answer about lnd\.service \(exit 1\): System has not been booted/);
  });

  it("passes with no .container units and starts no process", async () => {
    writeFileSync(join(dir, "lnd.volume"), "[Volume]\n");
    const verdict = await check({ scope: "user" }, {}, [psAll, showActive]);
    expect(verdict).toEqual({ passed: true, summary: `no .container units in ${dir}` });
    expect(fakes?.calls()).toEqual([]);
  });

  it("lets a unit in an earlier search path shadow one of the same name in a later one", async () => {
    mkdirSync(join(dir, "later"));
    writeFileSync(join(dir, "later", "lnd.container"), named());
    const verdict = await check({ scope: "user", dirs: [dir, join(dir, "later")] }, { "lnd.container": named("lnd-fixture") }, [psAll, showActive]);
    expect(verdict.passed).toBe(true);
  });

  it("fails when a search path exists but cannot be read as a directory", async () => {
    writeFileSync(join(dir, "not-a-dir"), "");
    const verdict = await check({ scope: "user", dirs: [join(dir, "not-a-dir")] }, {}, [psAll]);
    expect(verdict).toEqual({ passed: false, summary: `cannot read quadlet units: ${join(dir, "not-a-dir")}: ENOTDIR` });
  });
});
