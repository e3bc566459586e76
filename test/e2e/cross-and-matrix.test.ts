// Cross and matrix stages end to end on loopback agents: values captured on one node reach a step
// on another, a parallel group is a barrier, a failed probe skips its leg with the hint, and an
// opt-in leg not asked for is listed as skipped. (Multi-host behaviour — partitions, distinct
// identities — is proven in the network-namespace tests.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { queryDb, Workspace } from "./fixtures.js";

const PLAN = `
plan: scenario
stages:
  - id: federation
    kind: cross
    roles:
      origin: { role: fleet }
      peer: { role: fleet }
    steps:
      - id: publish
        on: origin
        command: { argv: [sh, -c, 'echo "{\\"id\\": \\"doc-$(hostname)-42\\"}"'], expect: { exit: 0 } }
        capture: { doc_id: { json: .id } }
      - id: fetch
        on: peer
        command: { argv: [test, "\${origin.doc_id}", "!=", ""] }
      - id: both-see
        parallel:
          - { id: origin-sees, on: origin, command: { argv: [sleep, "0.5"] } }
          - { id: peer-sees, on: peer, command: { argv: [echo, "\${origin.doc_id}"], expect: { stdout: { contains: "doc-" } } } }
      - id: after-barrier
        on: origin
        command: { argv: ["true"] }
  - id: integration
    kind: matrix
    probes:
      nested-kvm:
        file: { path: /nonexistent/kvm_intel/parameters/nested, contains: "Y" }
        hint: Enable nested KVM (options kvm-intel nested=1) and reboot once.
    legs:
      - { id: plain, on: { slot: a }, command: { argv: ["true"] } }
      - { id: needs-kvm, on: { slot: a }, requires: [nested-kvm], command: { argv: ["true"] } }
      - { id: e2e, on: { slot: a }, opt_in: true, command: { argv: ["true"] } }
`;

interface TaskRow {
  step_id: string;
  role: string;
  node_name: string;
  status: string;
  summary: string;
  started_at: number;
  finished_at: number;
}

describe("cross and matrix stages on real agents", () => {
  const ws = new Workspace();
  let c: Coordinator;

  beforeAll(async () => {
    ws.write("plan.yaml", PLAN);
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    for (const slot of ["a", "b"]) {
      const name = `node-${slot}`;
      ws.track(startAgent({ name, address: c.address, token, stateDir: ws.path(name), labels: { role: "fleet", slot } }));
    }
    await waitFor("both agents online", async () => ((await onlineNodes(c)).length === 2 ? true : undefined));
  });

  afterAll(() => ws.cleanup());

  it("passes a captured value to a later step on another node, holds the step after a parallel group until both finished, and skips a leg whose probe fails", async () => {
    const run = await coord(c, ["run", "all", "--plan", ws.path("plan.yaml")]);
    expect(run.stderr).not.toContain("coord: ");
    const tasks = queryDb<TaskRow>(c.stateDir, "SELECT step_id, role, node_name, status, summary, started_at, finished_at FROM tasks ORDER BY ordinal");
    const byStep = new Map(tasks.map((t) => [t.step_id, t]));

    // Roles went to distinct nodes and every step ran on its role's node.
    const origin = byStep.get("publish")?.node_name;
    const peer = byStep.get("fetch")?.node_name;
    expect(new Set([origin, peer])).toEqual(new Set(["node-a", "node-b"]));
    expect(byStep.get("peer-sees")?.node_name).toBe(peer);
    for (const id of ["publish", "fetch", "origin-sees", "peer-sees", "after-barrier"]) expect(byStep.get(id)?.status, id).toBe("passed");

    // The capture crossed nodes: the peer printed the value the origin produced.
    const echoed = queryDb<{ stdout_tail: string }>(c.stateDir, "SELECT stdout_tail FROM check_results WHERE check_id = 'peer-sees'")[0]?.stdout_tail ?? "";
    expect(echoed.trim()).toMatch(/^doc-.+-42$/);

    // Barrier: the step after the group started only after both members finished.
    const after = byStep.get("after-barrier") as TaskRow;
    expect(after.started_at).toBeGreaterThanOrEqual(byStep.get("origin-sees")?.finished_at ?? Infinity);
    expect(after.started_at).toBeGreaterThanOrEqual(byStep.get("peer-sees")?.finished_at ?? Infinity);

    // The probe failed on the leg's node: the leg is skipped with the probe's hint, never passed.
    expect(byStep.get("plain")?.status).toBe("passed");
    expect(byStep.get("needs-kvm")?.status).toBe("skipped");
    expect(byStep.get("needs-kvm")?.summary).toContain("requires probe.nested-kvm");
    expect(byStep.get("needs-kvm")?.summary).toContain("hint: Enable nested KVM");
    expect(byStep.has("e2e")).toBe(false);
    const show = await coord(c, ["show", queryDb<{ id: string }>(c.stateDir, "SELECT id FROM runs")[0]?.id ?? "", "--json"]);
    const record = JSON.parse(show.stdout) as { skips?: { target: string; source: string }[]; bindings?: { role: string; node: string }[] };
    expect(record.skips).toEqual([{ target: "e2e", reason: "opt-in leg; run it with --with e2e", source: "opt-in" }]);
    expect(record.bindings?.map((b) => b.role)).toEqual(["origin", "peer"]);
    expect((record as { verdict?: string }).verdict).toBe("INCOMPLETE");
    // Skipped leg: never a pass, so the run is not passed.
    expect(run.exitCode).toBe(2);
  }, 60_000);
});
