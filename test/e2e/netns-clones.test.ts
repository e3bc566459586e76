// Cloned nodes on network-namespace hosts with real agents over mTLS: an image cloned with its
// machine-id, name and agent state dir (key, certificate and node token included) answers from
// another host while the real node is connected; a second agent started on the real node's own
// host from a copy of its state dir. Either way the node is flagged cloned and a run touching it
// can never be signed off.
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_BIN, waitFor } from "../../scripts/local-fleet.js";
import { createNetnsFleet, type NetnsFleet } from "../harness/netns.js";
import { needsNetnsHost } from "../harness/preflight.js";

describe.skipIf(!needsNetnsHost())("cloned nodes", () => {
  let fleet: NetnsFleet;
  let plan = "";

  beforeAll(async () => {
    fleet = await createNetnsFleet({ nodes: [{ name: "alpha", labels: { role: "fleet" } }, { name: "beta", labels: { role: "fleet" } }] });
    const dir = join(fleet.workDir, "plans");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "ping.suite.yaml"), "suite: ping\nchecks:\n  - id: echo\n    command: { argv: [echo, hi] }\n");
    plan = join(dir, "plan.yaml");
    writeFileSync(plan, "plan: clones\nstages:\n  - id: fleet\n    kind: fleet\n    suite: ping.suite.yaml\n    nodes: { role: fleet }\n");
  }, 120_000);
  afterAll(() => fleet?.cleanup());

  /** Starts a second agent named alpha on `host`, from a copy of alpha's state dir. */
  function cloneOfAlphaOn(host: "alpha" | "beta", copy: string) {
    const alpha = fleet.node("alpha");
    cpSync(alpha.stateDir, copy, { recursive: true });
    const argv = [process.execPath, AGENT_BIN, "run", "--coordinator", fleet.coordinator.address, "--token", "fge_spent", "--name", "alpha", "--state-dir", copy, "--label", "role=fleet"];
    return fleet.exec(host, argv);
  }

  async function flagsOf(node: string): Promise<string> {
    const listed = await fleet.coord(["nodes"]);
    return listed.stdout.split("\n").find((l) => l.startsWith(`${node} `)) ?? "";
  }

  it("flags a second agent on alpha's own host, started from a copy of its state dir, and the run cannot be signed off", async () => {
    const clone = cloneOfAlphaOn("alpha", join(fleet.workDir, "alpha-copy"));
    await waitFor("alpha flagged cloned", async () => ((await flagsOf("alpha")).includes("two agent processes answered as node alpha") ? true : undefined), 30_000);
    await clone.stop("SIGKILL");
    const run = await fleet.coord(["run", "fleet", "--plan", plan]);
    expect(run.exitCode, run.stdout + run.stderr).toBe(2);
    expect(run.stdout).toMatch(/not valid for sign-off: node alpha is cloned/);
    const id = /run (\S+) \(clones\)/.exec(run.stdout)![1]!;
    const signoff = await fleet.coord(["signoff", id]);
    expect(signoff.exitCode).toBe(3);
    expect(signoff.stderr).toMatch(/node alpha is cloned/);
  }, 90_000);

  it("flags an image of alpha (same machine-id, name and state dir) answering from beta's host", async () => {
    const beta = fleet.node("beta");
    await fleet.killAgent("beta");
    // beta becomes a clone of alpha's image: alpha's machine-id, its own kernel (boot id).
    writeFileSync(beta.machineIdFile, `${fleet.node("alpha").machineId}\n`);
    const clone = cloneOfAlphaOn("beta", join(fleet.workDir, "alpha-image"));
    await waitFor("alpha flagged as two machines", async () => ((await flagsOf("alpha")).includes("two machines answered as node alpha") ? true : undefined), 30_000);
    await clone.stop("SIGKILL");
  }, 90_000);
});
