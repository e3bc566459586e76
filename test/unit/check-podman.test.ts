import { describe, expect, it } from "vitest";
import { podmanCheck } from "../../agent/checks/podman.js";
import { PodmanSpecSchema } from "../../shared/model/kinds/podman.js";
import { YamlSource } from "../../shared/model/yaml-source.js";
import { onPathEachTest } from "../fakes/on-path.js";
import { fixtureIn, outcome, recordedIn } from "../fakes/recorded.js";
import type { FakeTools, ReplayRule } from "../fakes/scenario.js";

const fixture = fixtureIn("podman");
/** A file printed on stdout with rc 0. */
const printed = (file: string) => outcome({ stdout: fixture(file) });
const recorded = recordedIn(fixture);
const spec = (block: Record<string, unknown>) => PodmanSpecSchema.parse(block);
const evaluate = (block: Record<string, unknown>, seen: ReturnType<typeof outcome>) => podmanCheck.evaluate(spec(block), seen);
const UNHEALTHY_OUTPUT = "wget: can't connect to remote host (127.0.0.1): Connection refused";

describe("podman spec", () => {
  it("accepts the suite's container form and the running-list form", () => {
    expect(spec({ container: "lnd", state: "running", health: "healthy" })).toEqual({ container: "lnd", state: "running", health: "healthy" });
    expect(spec({ running: ["lnd", "electrumx"] })).toEqual({ running: ["lnd", "electrumx"] });
  });

  it("answers a state typo with the states podman really prints, at the line of the typo", () => {
    const parse = () => YamlSource.parse("container: lnd\nstate: up\n", "check.yaml").validate(PodmanSpecSchema);
    expect(parse).toThrow(/^check\.yaml:2:8 state: expected one of running\|exited\|created\|.*\|removing, got "up"$/);
  });

  it("refuses both forms at once, neither, container-only fields in the list form, and option-like names", () => {
    const refused = (block: Record<string, unknown>) => PodmanSpecSchema.safeParse(block).error?.issues.map((i) => i.message);
    expect(refused({ container: "lnd", running: ["lnd"] })).toEqual(["give either container (one container) or running (a list), not both"]);
    expect(refused({ state: "running" })).toEqual(["a podman check needs container (one container) or running (a list of containers)"]);
    expect(refused({ running: ["lnd"], health: "healthy" })).toEqual(["health goes with container, not with running"]);
    expect(refused({ container: "--all" })?.[0]).toMatch(/^a container name/);
    expect(refused({ container: "lnd", health: "ok" })?.[0]).toMatch(/expected one of "healthy"\|"unhealthy"\|"starting"\|"none"/);
  });
});

describe("podmanCheck.evaluate on recorded podman output", () => {
  it("passes a running container whose healthcheck says healthy", () => {
    const seen = printed("inspect-state-running-healthy.constructed.json");
    expect(evaluate({ container: "lnd", state: "running", health: "healthy" }, seen)).toEqual({ passed: true, summary: "lnd running, healthy" });
  });

  it("fails a running but unhealthy container with its failing streak and the last check's output", () => {
    const seen = printed("inspect-state-running-unhealthy.constructed.json");
    expect(evaluate({ container: "lnd", state: "running", health: "healthy" }, seen)).toEqual({
      passed: false,
      summary: `expected health healthy, saw unhealthy (failing streak 3: ${UNHEALTHY_OUTPUT})`,
    });
  });

  it("fails a created container when running is expected, in both inspect forms", () => {
    const want = { passed: false, summary: "expected state running, saw created" };
    expect(evaluate({ container: "lnd", health: "healthy" }, printed("inspect-format-state-created.json"))).toEqual(want);
    expect(evaluate({ container: "lnd", image: "x" }, printed("inspect-created-with-healthcheck.json"))).toEqual(want);
    expect(evaluate({ container: "lnd" }, printed("inspect-format-state-after-failed-start.json"))).toEqual(want);
  });

  it("fails a missing container saying so and quoting podman's error", () => {
    expect(evaluate({ container: "does-not-exist", state: "running" }, recorded("inspect-missing"))).toEqual({
      passed: false,
      summary: 'no container named does-not-exist: Error: inspecting object: no such object: "does-not-exist"',
    });
  });

  it("tells a container without a healthcheck from one whose healthcheck has not run, when health is asked", () => {
    const created = { state: "created", health: "healthy" };
    expect(evaluate({ container: "plain-fixture", ...created }, printed("inspect-created-plain.json")).summary).toBe(
      "expected health healthy, but plain-fixture defines no healthcheck",
    );
    expect(evaluate({ container: "lnd-fixture", ...created }, printed("inspect-created-with-healthcheck.json")).summary).toBe(
      "expected health healthy, saw no health status yet: lnd-fixture's healthcheck has not run",
    );
    // The bare State cannot tell the two apart, so the message names both causes.
    expect(evaluate({ container: "lnd", ...created }, printed("inspect-format-state-created.json")).summary).toBe(
      "expected health healthy, saw no health status: lnd has no healthcheck, or it has not run yet",
    );
  });

  it("treats health none as no health status at all", () => {
    expect(evaluate({ container: "plain-fixture", state: "created", health: "none" }, printed("inspect-created-plain.json")).passed).toBe(true);
    expect(evaluate({ container: "lnd", health: "none" }, printed("inspect-state-running-healthy.constructed.json")).summary).toBe(
      "expected no health status, saw health healthy",
    );
  });

  it("matches image against ImageName and restarts against RestartCount from the whole document", () => {
    const seen = printed("inspect-created-with-healthcheck.json");
    const created = { container: "lnd-fixture", state: "created" };
    expect(evaluate({ ...created, image: "localhost/busybox-fixture:latest", restarts: 0 }, seen)).toEqual({ passed: true, summary: "lnd-fixture created" });
    expect(evaluate({ ...created, image: { contains: "lightninglabs/lnd" } }, seen).summary).toBe(
      'expected image containing "lightninglabs/lnd", saw localhost/busybox-fixture:latest',
    );
    expect(evaluate({ ...created, restarts: { gte: 1 } }, seen).summary).toBe("expected restarts >= 1, saw 0");
  });

  it("says podman could not be started rather than blaming the container", () => {
    expect(evaluate({ container: "lnd" }, outcome({ exitCode: null, spawnError: "spawn podman ENOENT" })).summary).toBe(
      "podman is not installed on this node",
    );
  });

  it("fails a running list naming each listed container with the state podman lists it in", () => {
    expect(evaluate({ running: ["lnd-fixture", "plain-fixture"] }, printed("ps-a.json"))).toEqual({
      passed: false,
      summary: "not running: lnd-fixture (created), plain-fixture (created)",
    });
    // A start that failed (start-fails: crun setrlimit) leaves the container created.
    expect(evaluate({ running: ["lnd-fixture"] }, printed("ps-a-after-failed-start.json")).summary).toBe("not running: lnd-fixture (created)");
  });

  it("fails a running list naming every container when podman lists none", () => {
    expect(evaluate({ running: ["lnd", "electrumx"] }, printed("ps-running-none.json"))).toEqual({
      passed: false,
      summary: "not running: lnd (no such container), electrumx (no such container)",
    });
  });
});

describe("podmanCheck through a fake podman replaying fixtures", () => {
  const installFakes = onPathEachTest();
  let fakes: FakeTools | undefined;

  /** Observes then evaluates `block` with podman answering from `file` for exactly `args`. */
  async function run(block: Record<string, unknown>, args: string[], answer: Omit<ReplayRule, "tool" | "args">) {
    const exact = `^${args.join(" ").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`;
    fakes = installFakes(["podman"], [{ tool: "podman", args: exact, ...answer }]);
    const s = spec(block);
    return podmanCheck.evaluate(s, await podmanCheck.observe(s, { timeoutMs: 10_000, maxOutputBytes: 65_536 }));
  }
  const stateOf = (name: string) => ["inspect", "--type", "container", "--format", "{{json .State}}", name];

  it("asks podman inspect for the State of the container and passes it running and healthy", async () => {
    const verdict = await run({ container: "lnd", state: "running", health: "healthy" }, stateOf("lnd"), { stdout: "podman/inspect-state-running-healthy.constructed.json" });
    expect(verdict).toEqual({ passed: true, summary: "lnd running, healthy" });
    expect(fakes?.calls()).toEqual([{ tool: "podman", args: stateOf("lnd") }]);
  });

  it("fails a running container whose healthcheck is failing", async () => {
    const verdict = await run({ container: "lnd", state: "running", health: "healthy" }, stateOf("lnd"), { stdout: "podman/inspect-state-running-unhealthy.constructed.json" });
    expect(verdict.summary).toBe(`expected health healthy, saw unhealthy (failing streak 3: ${UNHEALTHY_OUTPUT})`);
  });

  it("fails a container that was created but is not running", async () => {
    const verdict = await run({ container: "electrumx", state: "running" }, stateOf("electrumx"), { stdout: "podman/inspect-format-state-created.json" });
    expect(verdict).toEqual({ passed: false, summary: "expected state running, saw created" });
  });

  // inspect-missing was recorded as `podman inspect NAME`; under --type container podman 4.3.1
  // words it "no such container NAME" (not recorded). evaluate() reads both the same way.
  it("fails a missing container with podman's exit 125 and its message", async () => {
    const verdict = await run({ container: "does-not-exist" }, stateOf("does-not-exist"), { fixture: "podman/inspect-missing" });
    expect(verdict.summary).toBe('no container named does-not-exist: Error: inspecting object: no such object: "does-not-exist"');
  });

  it("asks for the whole inspect document only when image or restarts are compared", async () => {
    const args = ["inspect", "--type", "container", "lnd-fixture"];
    const block = { container: "lnd-fixture", state: "created", image: { contains: "busybox-fixture" }, restarts: 0 };
    expect(await run(block, args, { stdout: "podman/inspect-created-with-healthcheck.json" })).toEqual({ passed: true, summary: "lnd-fixture created" });
    expect(fakes?.calls()).toEqual([{ tool: "podman", args }]);
  });

  it("lists every container once and names each listed one that is not running", async () => {
    const args = ["ps", "-a", "--format", "json"];
    const verdict = await run({ running: ["lnd-fixture", "electrumx"] }, args, { stdout: "podman/ps-a.json" });
    expect(verdict).toEqual({ passed: false, summary: "not running: lnd-fixture (created), electrumx (no such container)" });
    expect(fakes?.calls()).toEqual([{ tool: "podman", args }]);
  });
});
